import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxiedRequest = { method: string; path: string; range: string | undefined; status: number };

/**
 * A real HTTP proxy in front of an S3 server: it records every request (method, path, Range) and,
 * when told, cuts the next GET's response after a number of body bytes by destroying the
 * connection, as a server that fails mid-read does; it can answer parts of multipart uploads late,
 * as a slow store does. Clients sign for the proxy's host, which S3
 * servers of path-style accept (the signature covers the Host header the client sent).
 */
export async function startS3Proxy(target: string) {
  const requests: ProxiedRequest[] = [];
  let cutting: { after: number; when: (range: string | undefined) => boolean } | undefined;
  let partDelayMs = 0;
  const server = http.createServer((request, response) => {
    const cut = request.method === 'GET' && cutting?.when(request.headers.range) ? cutting.after : undefined;
    if (cut !== undefined) cutting = undefined;
    const delay = request.method === 'PUT' && /[?&]partNumber=/.test(request.url!) ? partDelayMs : 0;
    const upstream = http.request(`${target}${request.url}`, { method: request.method, headers: request.headers }, async (answer) => {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      requests.push({ method: request.method!, path: request.url!, range: request.headers.range, status: answer.statusCode! });
      response.writeHead(answer.statusCode!, answer.headers);
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (cut !== undefined && sent + chunk.length > cut) {
          response.write(chunk.subarray(0, cut - sent));
          answer.destroy();
          response.socket?.destroy(); // mid-body: the client sees the connection reset
          return;
        }
        sent += chunk.length;
        response.write(chunk);
      });
      answer.on('end', () => response.end());
    });
    upstream.on('error', () => response.socket?.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** The body of the next GET (whose Range header `when` accepts) is cut after `bytes` bytes. */
    cutNextGetAfter(bytes: number, when: (range: string | undefined) => boolean = () => true) {
      cutting = { after: bytes, when };
    },
    /** Each part of a multipart upload is answered `ms` later than the server answered: a slow store. */
    delayPartUploads(ms: number) {
      partDelayMs = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
