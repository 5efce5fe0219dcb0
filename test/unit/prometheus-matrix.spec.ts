/**
 * The query_range answer reader (src/integrations/prometheus/prometheus-matrix.ts) against
 * JSON.parse: the same labels, times and values for answers as Prometheus writes them and for
 * awkward but valid JSON; a clear error for anything else.
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { MatrixSyntaxError, parseMatrixAnswer, parsePromValue } from '../../src/integrations/prometheus/prometheus-matrix';

/** What JSON.parse makes of the same text, in the reader's shape. */
function reference(text: string) {
  const parsed = JSON.parse(text);
  return parsed.data.result.map((s: { metric: Record<string, string>; values: [number, string][] }) => ({
    metric: s.metric,
    times: s.values.map(([t]) => t),
    values: s.values.map(([, v]) => parsePromValue(v)),
  }));
}

function shape(text: string) {
  const answer = parseMatrixAnswer(Buffer.from(text, 'utf8'), 4);
  return (answer.data!.result as { metric: Record<string, string>; times: Float64Array; values: Float64Array }[]).map((s) => ({
    metric: s.metric,
    times: Array.from(s.times),
    values: Array.from(s.values),
  }));
}

describe('reading a query_range answer without an object per sample', () => {
  it('reads an answer as Prometheus writes it, as JSON.parse does', () => {
    const text =
      '{"status":"success","data":{"resultType":"matrix","result":[' +
      '{"metric":{"endpoint":"/api/v1/alerts","le":"+Inf","method":"GET"},"values":[[1796365032,"2182.9090909090905"],[1796368632,"2569.090909090909"],[1796372232,"0"],[1796375832,"NaN"],[1796379432,"+Inf"],[1796383032,"-Inf"],[1796386632,"1e-7"],[1796390232,"-3.5E+2"],[1796393832,"1140"]]},' +
      '{"metric":{},"values":[[1796365032.001,"0.000123456789012345"],[1796365092.5,"123456789012345678"]]},' +
      '{"metric":{"endpoint":"/api/v1/bom/{id}"},"values":[]}' +
      ']}}';
    const got = shape(text);
    const want = reference(text);
    expect(got.map((s) => s.metric)).toEqual(want.map((s: { metric: unknown }) => s.metric));
    got.forEach((s, i) => {
      expect(s.times).toEqual(want[i].times);
      s.values.forEach((v, k) => {
        const w = want[i].values[k];
        if (Number.isNaN(w) || !Number.isFinite(w) || w === 0) expect(Object.is(v, w) || (Number.isNaN(v) && Number.isNaN(w))).toBe(true);
        else expect(Math.abs(v - w) / Math.abs(w)).toBeLessThan(1e-15);
      });
    });
    // Up to 2^53 in the digits the value is exactly Number()'s.
    expect(got[0].values[0]).toBe(2182.9090909090905);
    expect(got[0].values[6]).toBe(1e-7);
    expect(got[0].values[7]).toBe(-350);
  });

  it('reads labels with escapes, brackets and non-ASCII text, and pretty-printed JSON', () => {
    const text = JSON.stringify(
      {
        status: 'success',
        warnings: ['query may be slow'],
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: { endpoint: '/a"b\\c]},[', note: 'Gudang – Jakarta ✓', tab: 'x\ty' },
              values: [
                [1796365032, '1.5'],
                [1796365092, '2'],
              ],
            },
            {
              metric: { endpoint: 'z' },
              histograms: [[1796365032, { count: '3', sum: '1', buckets: [[0, '0', '1', '3']] }]],
              values: [[1796365032, '7']],
            },
          ],
        },
        infos: { nested: [1, { a: ']' }] },
      },
      null,
      2,
    );
    expect(shape(text)).toEqual(reference(text));
    const answer = parseMatrixAnswer(text);
    expect(answer.status).toBe('success');
    expect(answer.warnings).toEqual(['query may be slow']);
    expect(answer.data!.resultType).toBe('matrix');
  });

  it('grows past the capacity it was given', () => {
    const values = Array.from({ length: 3000 }, (_, i) => [1796365032 + i * 15, String(i / 7)]);
    const text = JSON.stringify({
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          { metric: { a: '1' }, values },
          { metric: { a: '2' }, values: values.slice(0, 10) },
        ],
      },
    });
    const [first, second] = shape(text);
    expect(first.times.length).toBe(3000);
    expect(first.times[2999]).toBe(1796365032 + 2999 * 15);
    expect(Math.abs(first.values[2999] - 2999 / 7)).toBeLessThan(1e-12);
    expect(second.times).toEqual(values.slice(0, 10).map(([t]) => t));
  });

  it('reads error envelopes and other result types', () => {
    expect(parseMatrixAnswer('{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected end of input"}')).toEqual({
      status: 'error',
      errorType: 'bad_data',
      error: '1:4: parse error: unexpected end of input',
    });
    expect(parseMatrixAnswer('{"status":"success","data":{"resultType":"vector","result":{}}}').data).toEqual({ resultType: 'vector' });
  });

  it('refuses what is not JSON of that shape, saying where', () => {
    for (const bad of [
      '',
      '<html>502 Bad Gateway</html>',
      '[1,2]',
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]]}]}',
      '{"status":"success","data":{"result":[{"values":[[1,"2"],]}]}}',
      '{"status":"success"} trailing',
      '{"status":"succ',
    ]) {
      expect(() => parseMatrixAnswer(bad)).toThrow(MatrixSyntaxError);
    }
    expect(() => parseMatrixAnswer('{"data":{"result":[{"values":[[1,"2"]x]}]}}')).toThrow(/expected , or \] at character 37/);
  });
});
