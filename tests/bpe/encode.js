// Reads a JSON array of texts on stdin and prints a JSON array with each one's GPT-2 token ids as the npm
// package gpt-3-encoder 1.1.4 computes them: the reference of tests/engine/test_bpe_tokenizer.cpp.
//   npm ci --prefix tests/bpe && echo '["Hello world"]' | node tests/bpe/encode.js     →  [[15496,995]]
'use strict';
const { encode } = require('gpt-3-encoder');

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const texts = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (!Array.isArray(texts) || !texts.every((text) => typeof text === 'string')) {
    process.stderr.write('encode.js: expected a JSON array of strings on stdin\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(texts.map((text) => encode(text))) + '\n');
});
