// A small strict parser of the Prometheus text exposition format (0.0.4), enough to check that /metrics
// is well formed: # HELP / # TYPE lines, samples `name{label="value",...} value [timestamp]`, escapes.
interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { name: string; type: string; help: string; samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  if (s === '' || Number.isNaN(n)) throw new Error(`bad sample value "${s}"`);
  return n;
}

function parseLabels(s: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m || s[i + m[0].length] !== '=' || s[i + m[0].length + 1] !== '"') throw new Error(`bad label in: ${line}`);
    i += m[0].length + 2;
    let v = '';
    for (;;) {
      const c = s[i];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') { i++; break; }
      if (c === '\\') {
        const e = s[i + 1];
        v += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : (() => { throw new Error(`bad escape in: ${line}`); })();
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    labels[m[0]] = v;
  }
}

function familyOf(sample: string, fams: Map<string, Family>): Family | undefined {
  if (fams.has(sample)) return fams.get(sample);
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (sample.endsWith(suffix)) {
      const f = fams.get(sample.slice(0, -suffix.length));
      if (f) return f;
    }
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const f = fams.get(m[2]!) ?? { name: m[2]!, type: 'untyped', help: '', samples: [] };
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`bad TYPE: ${line}`);
        f.type = m[3]!;
      } else f.help = m[3]!;
      fams.set(f.name, f);
      continue;
    }
    const nm = NAME.exec(line);
    if (!nm) throw new Error(`bad sample line: ${line}`);
    let rest = line.slice(nm[0].length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2) throw new Error(`bad sample line: ${line}`);
    const sample = { name: nm[0], labels, value: parseValue(parts[0]!) };
    const f = familyOf(nm[0], fams);
    if (f) f.samples.push(sample);
    else fams.set(nm[0], { name: nm[0], type: 'untyped', help: '', samples: [sample] });
  }
  return fams;
}
