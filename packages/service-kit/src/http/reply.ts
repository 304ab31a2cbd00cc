/** What a route handler returns when 200 with a JSON body is not what it means. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers?: Record<string, string>,
  ) {}
}

export const reply = (status: number, body?: unknown, headers?: Record<string, string>) =>
  new Reply(status, body, headers);
export const created = (body: unknown, headers?: Record<string, string>) => new Reply(201, body, headers);
export const noContent = () => new Reply(204);
