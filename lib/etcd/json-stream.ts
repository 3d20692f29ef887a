// Splits a stream of concatenated JSON objects ({…}{…} or one per line), as etcd's gateway
// accepts on its streaming endpoints, into one text per object.

export class JsonObjectSplitter {
  private buffer = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;

  /** Feeds more text; returns the objects it completed. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const done: string[] = [];
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === "{" || c === "[") {
        if (this.depth++ === 0) this.start = i;
      } else if (c === "}" || c === "]") {
        if (--this.depth === 0) done.push(this.buffer.slice(this.start, i + 1));
        if (this.depth < 0) {
          done.push(this.buffer.slice(i)); // unbalanced: hand it on so the caller reports it
          this.reset();
          return done;
        }
      } else if (this.depth === 0 && !/\s/.test(c!)) {
        done.push(this.buffer.slice(i)); // stray text between objects
        this.reset();
        return done;
      }
    }
    if (this.depth === 0) {
      this.buffer = "";
      this.scanned = 0;
    } else {
      this.buffer = this.buffer.slice(this.start);
      this.scanned = this.buffer.length;
      this.start = 0;
    }
    return done;
  }

  /** Whatever is left when the stream ends: an unfinished object, if any. */
  rest(): string {
    return this.depth > 0 ? this.buffer : "";
  }

  private reset(): void {
    this.buffer = "";
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.start = -1;
    this.scanned = 0;
  }
}
