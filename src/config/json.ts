/**
 * JSON config files: JSON.parse for the value, and on failure jsonc-parser to say where. JSON.parse reports no line
 * and, on Node 20, often no position at all, while its message quotes the file's text (which may hold a secret);
 * jsonc-parser's error list has the offset and a code, and no text. A module of its own, so only JSON files load it.
 * Its ES module build is imported by path: the package's `main` is a UMD build whose require()s bundlers cannot follow.
 * (That build imports files without extensions, which Node cannot load unbundled: config/ is the CLI's, always bundled;
 * tsc's dist/config/ is not packed.)
 */
import { type ParseError, parse as parseLoose, printParseErrorCode } from "jsonc-parser/lib/esm/main.js";

/** A JSON syntax error with its place (1-based) and a reason that quotes nothing from the file. */
export class JsonSyntaxError extends SyntaxError {
  readonly line: number;
  readonly column: number;
  constructor(reason: string, line: number, column: number) {
    super(reason);
    this.name = "JsonSyntaxError";
    this.line = line;
    this.column = column;
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const lines = text.slice(0, Math.max(0, Math.min(offset, text.length))).split(/\r\n|\r|\n/);
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const errors: ParseError[] = [];
    parseLoose(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const found = errors[0];
    if (!found) throw e;
    // `PropertyNameExpected` → `property name expected`
    const reason = printParseErrorCode(found.error)
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .toLowerCase();
    const { line, column } = lineColumn(text, found.offset);
    throw new JsonSyntaxError(reason, line, column);
  }
}
