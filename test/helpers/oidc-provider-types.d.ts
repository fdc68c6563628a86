/** The part of `oidc-provider` (v9, untyped) the test provider uses. */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  type Ctx = { path: string; status: number; body: unknown };
  type Account = { accountId: string; claims: () => Record<string, unknown> };

  class Grant {
    constructor(init: { accountId: string; clientId: string });
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(
      issuer: string,
      config: Record<string, unknown> & {
        interactions?: { url: (ctx: Ctx, interaction: { uid: string }) => string };
        findAccount?: (ctx: Ctx, sub: string) => Account | undefined;
      },
    );
    proxy: boolean;
    Grant: typeof Grant;
    use(middleware: (ctx: Ctx, next: () => Promise<void>) => Promise<void>): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<{ uid: string; params: Record<string, unknown> }>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }
}
