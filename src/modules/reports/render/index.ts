/** Renderings of the performance report (pure, no Nest): CSV tables and zip, HTML page with charts, PNG charts. */
export { renderReportCsvZip, renderSectionCsv, reportFileStem, sectionTables, toCsv } from './report-csv';
export type { CsvTable, ReportDocument } from './report-csv';
export { renderReportCharts, svgToPng } from './report-charts';
export type { ReportChart } from './report-charts';
export { escapeHtml, renderReportHtml } from './report-html';
export type { RenderedHtml, RenderHtmlOptions, ReportImage } from './report-html';
export { negotiateReportFormat, renderReportAs, REPORT_FORMATS } from './report-format';
export type { ReportRepresentation } from './report-format';
