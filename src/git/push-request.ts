/**
 * The head of a git-receive-pack request (what a push sends before its pack), read without git:
 * `*shallow command-list` in pkt-lines, ended by a flush (gitprotocol-pack(5)). Slipway reads it
 * only to refuse a push before git runs; git itself reads the real thing.
 */
export interface PushRequestHead {
  /** The commits where the client's history is cut (`shallow <oid>` lines): empty for a full clone. */
  shallow: string[];
  /** The refs the push updates, in order. */
  refs: string[];
  /** The capabilities the client asked for (on its first command). */
  capabilities: string[];
}

const MAX_HEAD = 256 * 1024;

/**
 * The head, once `body` holds all of it; undefined while more is needed; null when the body is
 * not a push git sends (compressed, malformed, or a head larger than any real one).
 */
export function parsePushHead(body: Buffer): PushRequestHead | undefined | null {
  const head: PushRequestHead = { shallow: [], refs: [], capabilities: [] };
  let offset = 0;
  for (;;) {
    if (body.length < offset + 4) return body.length > MAX_HEAD ? null : undefined;
    const hex = body.subarray(offset, offset + 4).toString('latin1');
    if (!/^[0-9a-f]{4}$/.test(hex)) return null;
    const size = parseInt(hex, 16);
    if (size === 0) return head.refs.length > 0 ? head : null;
    if (size < 4) return null;
    if (body.length < offset + size) return body.length > MAX_HEAD ? null : undefined;
    const line = body
      .subarray(offset + 4, offset + size)
      .toString('utf8')
      .replace(/\n$/, '');
    offset += size;
    const shallow = /^shallow ([0-9a-f]{40,64})$/.exec(line);
    if (shallow) {
      // Shallow lines come before every command.
      if (head.refs.length > 0) return null;
      head.shallow.push(shallow[1]!);
      continue;
    }
    const [command, capabilities] = line.split('\0');
    const match = /^[0-9a-f]{40,64} [0-9a-f]{40,64} (\S+)$/.exec(command ?? '');
    if (!match) return null;
    if (head.refs.length === 0) head.capabilities = (capabilities ?? '').split(' ').filter(Boolean);
    head.refs.push(match[1]!);
  }
}

function pkt(payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0'), 'latin1'), data]);
}

const FLUSH = Buffer.from('0000', 'latin1');

/**
 * git-receive-pack's answer refusing every ref of the push, as git would send it: `message` as
 * `remote:` lines (when the client takes a side band), and `ng <ref> <reason>` for each ref (when
 * it asked for a report), so the client prints `! [remote rejected] ... (<reason>)` and fails.
 */
export function refusePush(head: PushRequestHead, message: string[], reason: string): Buffer {
  const report = head.capabilities.some((c) => c === 'report-status' || c === 'report-status-v2')
    ? Buffer.concat([pkt('unpack ok\n'), ...head.refs.map((ref) => pkt(`ng ${ref} ${reason}\n`)), FLUSH])
    : Buffer.alloc(0);
  if (!head.capabilities.some((c) => c === 'side-band-64k' || c === 'side-band')) return report;
  const band = (channel: number, data: Buffer): Buffer[] => {
    // side-band allows 1000 bytes a packet, side-band-64k 65520: 995 bytes of data fit both.
    const packets: Buffer[] = [];
    for (let i = 0; i < data.length; i += 995) packets.push(pkt(Buffer.concat([Buffer.from([channel]), data.subarray(i, i + 995)])));
    return packets;
  };
  return Buffer.concat([...message.flatMap((line) => band(2, Buffer.from(`${line}\n`, 'utf8'))), ...(report.length > 0 ? band(1, report) : []), FLUSH]);
}
