import { randomBytes } from 'node:crypto';
import { call } from './http';

export interface SignedIn {
  id: string;
  email: string;
  password: string;
  token: string;
}

/** Registers a new customer through the gateway and logs in. */
export async function newMember(gatewayUrl: string, name = 'Test Customer'): Promise<SignedIn> {
  const email = `customer-${randomBytes(5).toString('hex')}@example.test`;
  const password = 'correct horse battery staple';
  const registered = await call(gatewayUrl, 'POST', '/members', { body: { email, password, name } });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  const login = await call(gatewayUrl, 'POST', '/members/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  return { id: registered.body.id, email, password, token: login.body.token };
}
