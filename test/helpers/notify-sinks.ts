import http from 'node:http';
import { AddressInfo } from 'node:net';
import { simpleParser, ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A real SMTP server (smtp-server) on 127.0.0.1 that keeps every message it receives. */
export interface MailSink {
  url: string;
  messages: ParsedMail[];
  close(): Promise<void>;
}

/**
 * `rejectFirst`: the first N messages are refused with a temporary error (451), to test retries.
 * `refuse`: recipients for which this answers true are refused (451) at RCPT TO while it does.
 */
export async function startMailSink(
  options: { rejectFirst?: number; refuse?: (recipient: string) => boolean } = {},
): Promise<MailSink & { rejected: number }> {
  const messages: ParsedMail[] = [];
  let rejected = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (options.refuse?.(address.address))
        return callback(Object.assign(new Error('mailbox busy, try again later'), { responseCode: 451 }));
      callback();
    },
    onData(stream, _session, callback) {
      if (rejected < (options.rejectFirst ?? 0)) {
        rejected++;
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('try again later'), { responseCode: 451 })));
        return;
      }
      simpleParser(stream, { keepCidLinks: true })
        .then((mail) => {
          messages.push(mail);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get rejected() {
      return rejected;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A local HTTP receiver standing for the chat's incoming webhook: keeps every JSON body. */
export interface ChatSink {
  url: string;
  bodies: Record<string, any>[];
  close(): Promise<void>;
}

export async function startChatSink(): Promise<ChatSink> {
  const bodies: Record<string, any>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        bodies.push({ unparsable: Buffer.concat(chunks).toString('utf8') });
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/secret-token`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
