// tokcheck's bridge to transformers.js's tokenizer library (@huggingface/tokenizers), run by
// tokcheck/jsruntime.py as: node transformers_js.cjs PACKAGE_DIR PARENT_PID
//
// It reads one JSON request per line on stdin and writes one JSON answer per line on stdout,
// until stdin ends. The first request loads the tokenizer:
//   {"tokenizer": TOKENIZER_JSON_TEXT, "config": TOKENIZER_CONFIG} -> {"ready": true}
// and the others use it:
//   {"encode": [text, ...]}   -> {"ids": [[id, ...], ...]}    (no special tokens added)
//   {"decode": [[id, ...]]}   -> {"texts": [text, ...]}       (special tokens kept)
//   {"pieces": [id, ...]}     -> {"pieces": [name, ...]}
//   {"stream": [[start, [id, ...]], ...]}   -> {"chunks": [[chunk, ...]]}
//                             (prefix/read offsets after a prompt of `start` ids, below)
// A request that throws is answered {"error": message}; the process goes on. A package that
// cannot be loaded makes every answer {"error": message, "package": true}.
"use strict";
const readline = require("readline");

const REPLACEMENT = "\ufffd";

function send(answer) {
  process.stdout.write(JSON.stringify(answer) + "\n");
}

// The chunks text-generation-inference and vLLM emit for ids after the prompt ids[0:start],
// over this runtime's decode: the algorithm of tokcheck.stream.prefix_read_offsets (its
// PROMPT_WINDOW is the 5 below), run here so that a line costs one request rather than one per
// id. Lengths are counted in code points, as Python counts them.
function prefixReadOffsets(decode, ids, start) {
  const chunks = [];
  let prefix = Math.max(start - 5, 0);
  let read = start;
  let prefixLength = read > prefix ? Array.from(decode(ids.slice(prefix, read))).length : 0;
  for (let end = start + 1; end <= ids.length; end++) {
    const text = Array.from(decode(ids.slice(prefix, end)));
    if (text.length > prefixLength && text[text.length - 1] !== REPLACEMENT) {
      chunks.push(text.slice(prefixLength).join(""));
      prefix = read;
      read = end;
      prefixLength = read > prefix ? Array.from(decode(ids.slice(prefix, read))).length : 0;
    }
  }
  return chunks;
}

// Ends this process when tokcheck's has gone, however it went (SIGKILL included), even while
// the main thread is busy or stuck: a worker thread polls the parent's pid and kills the process.
// The parent's pid comes from tokcheck, so a parent gone before this starts is seen too.
function dieWithParent(parent) {
  const { Worker } = require("worker_threads");
  const watch = `
    const parent = ${Number(parent) || process.ppid};
    setInterval(() => { if (process.ppid !== parent) process.kill(${process.pid}, "SIGKILL"); }, 500);
  `;
  new Worker(watch, { eval: true }).unref();
}

function main() {
  dieWithParent(process.argv[3]);
  let Tokenizer = null;
  let broken = null;
  try {
    ({ Tokenizer } = require(process.argv[2]));
    if (typeof Tokenizer !== "function") throw new Error("it exports no Tokenizer class");
  } catch (e) {
    broken = `cannot load ${process.argv[2]}: ${String((e && e.message) || e)}`;
  }
  let tokenizer = null;
  // tokenizers.js throws on no ids where the Rust library gives "": the judge decodes the ids
  // of empty lines and windows, which no user's decode call would hold.
  const decode = (ids) =>
    ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: false });
  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  input.on("line", (line) => {
    let answer;
    if (broken !== null) {
      send({ error: broken, package: true });
      return;
    }
    try {
      const request = JSON.parse(line);
      if (request.tokenizer !== undefined) {
        tokenizer = new Tokenizer(JSON.parse(request.tokenizer), request.config ?? {});
        answer = { ready: true };
      } else if (tokenizer === null) {
        answer = { error: "no tokenizer loaded" };
      } else if (request.encode) {
        answer = {
          ids: request.encode.map((t) => tokenizer.encode(t, { add_special_tokens: false }).ids),
        };
      } else if (request.decode) {
        answer = { texts: request.decode.map(decode) };
      } else if (request.pieces) {
        answer = { pieces: request.pieces.map((i) => tokenizer.id_to_token(i) ?? null) };
      } else if (request.stream) {
        answer = {
          chunks: request.stream.map(([start, ids]) => prefixReadOffsets(decode, ids, start)),
        };
      } else {
        answer = { error: "unknown request" };
      }
    } catch (e) {
      answer = { error: String((e && e.message) || e) };
    }
    send(answer);
  });
}

main();
