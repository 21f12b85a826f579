/**
 * A base class whose instances are functions: `tokenizer(text)` and `generator(prompt)` call the
 * instance's `_call`, while the instance keeps its class (`instanceof`, methods, fields). The
 * constructor returns a function whose prototype is the subclass's; a subclass's fields and
 * constructor body then apply to that function, since a base constructor's returned object becomes
 * `this` for the derived one. The instances are not Function objects otherwise (no call/apply/bind).
 */
export abstract class Callable<Args extends unknown[], Result> {
  constructor() {
    const call = (...args: Args): Result => (call as unknown as Callable<Args, Result>)._call(...args);
    Object.defineProperty(call, 'name', { value: new.target.name }); // what inspection shows
    return Object.setPrototypeOf(call, new.target.prototype) as Callable<Args, Result>;
  }

  /** What calling the instance does. */
  protected abstract _call(...args: Args): Result;
}
