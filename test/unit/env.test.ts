import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from '../../src/env/load.js';
import { generateToken } from '../../src/lib/secret-token.js';

describe('loadEnv', () => {
  it('applies the DESIGN.md defaults', () => {
    expect(loadEnv({})).toEqual({
      PORT: 8080,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      LOG_LEVEL: 'info',
      PLUGINS_DIR: './plugins',
      GATEHOUSE_GROUP_COMMIT: 'auto',
    });
  });

  it('converts and keeps valid values', () => {
    const token = generateToken('gth');
    const env = loadEnv({
      PORT: '9000',
      DATABASE_URL: 'postgres://u@h/db',
      GATEHOUSE_BOOTSTRAP_TOKEN: token,
      UNRELATED: 'x',
    });
    expect(env).toMatchObject({
      PORT: 9000,
      DATABASE_URL: 'postgres://u@h/db',
      GATEHOUSE_BOOTSTRAP_TOKEN: token,
    });
    expect(env).not.toHaveProperty('UNRELATED');
    expect(Object.isFrozen(env)).toBe(true);
  });

  it('reports every problem at once', () => {
    const token = generateToken('gth');
    const badSum = `${token.slice(0, -1)}${token.endsWith('a') ? 'b' : 'a'}`;
    try {
      loadEnv({
        PORT: '99999',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        GATEHOUSE_BOOTSTRAP_TOKEN: badSum,
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EnvError);
      const text = (err as EnvError).problems.join('\n');
      for (const key of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'GATEHOUSE_BOOTSTRAP_TOKEN'])
        expect(text).toContain(key);
    }
  });
});
