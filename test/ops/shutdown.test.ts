import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { startServer } from '../helpers/server-process.js';

describe('SIGTERM', () => {
  it('lets an in-flight request finish, then exits 0', async () => {
    const token = generateToken('gth');
    const server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: token });
    try {
      const { hostname, port } = new URL(server.url);
      const body = JSON.stringify({ username: 'inflight' });
      const socket = connect(Number(port), hostname);
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      const closed = new Promise<void>((res) => socket.on('close', () => res()));
      await new Promise<void>((res) => socket.on('connect', () => res()));
      // Half the request, then the signal, then the rest: the request is in flight when SIGTERM lands.
      socket.write(
        `POST /api/users HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      process.kill(server.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      socket.write(body.slice(5));
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 201 /);
      expect(answer).toContain('"username":"inflight"');
      expect(await server.exited).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('refuses to start with bad settings, listing every problem', async () => {
    await expect(startServer({ PORT: 'eighty', LOG_LEVEL: 'loud' }, 10_000)).rejects.toThrow(
      /PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*PORT/,
    );
  });
});
