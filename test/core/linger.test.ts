import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { LINGER_MS, lingerOn } from '../../core/server-lifecycle.js';
import { VirtualClock } from '../../core/virtual-clock.js';

/** A request whose body is still arriving: what lingerOn sees of an IncomingMessage. */
class UnfinishedUpload extends EventEmitter {
  complete = false;
  flowing = false;
  piped = true;
  readonly socket = { destroyed: false, destroy: () => void (this.socket.destroyed = true) };
  unpipe(): this {
    this.piped = false;
    return this;
  }
  resume(): this {
    this.flowing = true;
    return this;
  }
}

describe('lingerOn (read and drop the rest of an upload answered early)', () => {
  it('unpipes and drains the body, then cuts the connection after LINGER_MS if the body is still coming', () => {
    const clock = new VirtualClock();
    const req = new UnfinishedUpload();
    lingerOn(req, clock);
    expect({ flowing: req.flowing, piped: req.piped }).toEqual({ flowing: true, piped: false });
    clock.advance(LINGER_MS - 1);
    expect(req.socket.destroyed).toBe(false);
    clock.advance(1);
    expect(req.socket.destroyed).toBe(true);
  });

  it('keeps the connection once the body is in, and leaves a complete request alone', () => {
    const clock = new VirtualClock();
    const req = new UnfinishedUpload();
    lingerOn(req, clock);
    req.emit('end');
    clock.advance(2 * LINGER_MS);
    expect(req.socket.destroyed).toBe(false);

    const done = new UnfinishedUpload();
    done.complete = true;
    lingerOn(done, clock);
    expect({ flowing: done.flowing, piped: done.piped }).toEqual({ flowing: false, piped: true });
  });
});
