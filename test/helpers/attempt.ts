// Shared by the property suites: run a call and keep what it returned or threw.
import { expect } from 'vitest';

export function attempt<T>(f: () => T): { value?: T; error?: unknown } {
  try {
    return { value: f() };
  } catch (error) {
    return { error };
  }
}

/** An Error with a non-empty message (not a string or other value thrown). */
export function expectErrorWithMessage(error: unknown): void {
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message.length).toBeGreaterThan(0);
}
