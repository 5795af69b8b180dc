import type { WebSocketLike } from '@hono/node-server';
import type { EventSink } from './import-event-hub.ts';

/** The parts of a `ws` WebSocket used here beyond what @hono/node-server types expose. */
type RawSocket = Omit<WebSocketLike, 'send'> & {
  send(data: Buffer, options: { binary: boolean }): void;
  bufferedAmount: number;
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): RawSocket;
};

const OPEN = 1;
/** Close code 1013 "try again later": the subscriber does not read fast enough. */
export const CLOSE_TOO_SLOW = 1013;

export type SocketOptions = { maxBufferedBytes: number };

/**
 * A subscriber's socket as an EventSink. A client that stops reading would make the server hold
 * every message for it; past maxBufferedBytes it is closed with 1013 instead.
 */
export function createSocketSink(raw: WebSocketLike, options: SocketOptions): EventSink {
  const socket = raw as RawSocket;
  return {
    send(json) {
      if (socket.readyState !== OPEN) return;
      if (socket.bufferedAmount > options.maxBufferedBytes) {
        closeTooSlow(socket);
        return;
      }
      socket.send(json, { binary: false });
    },
    close(code, reason) {
      if (socket.readyState === OPEN) socket.close(code, reason);
    },
  };
}

function closeTooSlow(socket: RawSocket): void {
  socket.close(CLOSE_TOO_SLOW, 'send buffer full: subscriber too slow');
  // A client that reads nothing will not read the close frame either.
  setTimeout(() => socket.terminate(), 5000).unref();
}

/**
 * Pings every socket each interval; one that has not answered the previous ping is dead (a
 * vanished laptop, a dropped NAT mapping) and is terminated, which ends its subscription.
 */
export function createHeartbeat(intervalMs: number) {
  const alive = new Map<RawSocket, boolean>();
  const timer = setInterval(() => {
    for (const [socket, answered] of alive) {
      if (!answered) {
        alive.delete(socket);
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return {
    watch(raw: WebSocketLike): void {
      const socket = raw as RawSocket;
      alive.set(socket, true);
      socket.on('pong', () => alive.has(socket) && alive.set(socket, true));
    },
    forget(raw: WebSocketLike): void {
      alive.delete(raw as RawSocket);
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}

export type Heartbeat = ReturnType<typeof createHeartbeat>;
