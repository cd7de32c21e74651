// tests/frontend/sdk/reporter.mjs — a node:test reporter printing the `ok - NAME` /
// `not ok - NAME` lines tests/run counts (prefix from $SILO_TEST_PREFIX), failures with their
// error, skipped tests as `# skip - NAME` (never counted as passed).
const prefix = process.env.SILO_TEST_PREFIX ?? 'frontend (fake VMM)';

function indent(text) {
  return String(text).split('\n').map((l) => `#   ${l}`).join('\n');
}

export default async function* reporter(source) {
  for await (const event of source) {
    const d = event.data;
    switch (event.type) {
      case 'test:pass':
        if (d.details?.type === 'suite') break;
        if (d.skip || d.todo) yield `# skip - ${prefix}: ${d.name}\n`;
        else yield `ok - ${prefix}: ${d.name} (${Math.round(d.details.duration_ms)} ms)\n`;
        break;
      case 'test:fail': {
        const err = d.details?.error;
        const cause = err?.cause ?? err;
        yield `not ok - ${prefix}: ${d.name}\n${indent(cause?.stack ?? cause?.message ?? cause)}\n`;
        break;
      }
      case 'test:stdout':
      case 'test:stderr':
        yield indent(d.message.replace(/\n$/, '')) + '\n';
        break;
      default:
        break;
    }
  }
}
