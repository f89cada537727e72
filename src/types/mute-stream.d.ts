/** The part of mute-stream (npm's, no bundled types) that src/cli/prompt.ts uses. */
declare module "mute-stream" {
  import { Stream } from "node:stream";
  export default class MuteStream extends Stream {
    constructor(options?: { replace?: string; prompt?: string });
    muted: boolean;
    isTTY: boolean;
    mute(): void;
    unmute(): void;
    write(chunk: string | Uint8Array): boolean;
    end(): void;
    pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T;
  }
}
