import protobuf from 'protobufjs';

/**
 * BuildKit reports build progress as base64 protobuf `moby.buildkit.v1.StatusResponse`
 * messages. Only what a developer reads is decoded: steps (vertexes) and their output (logs).
 */
const root = protobuf.Root.fromJSON({
  nested: {
    StatusResponse: {
      fields: {
        vertexes: { rule: 'repeated', type: 'Vertex', id: 1 },
        logs: { rule: 'repeated', type: 'VertexLog', id: 3 },
      },
    },
    Vertex: {
      fields: {
        digest: { type: 'string', id: 1 },
        name: { type: 'string', id: 3 },
        cached: { type: 'bool', id: 4 },
        started: { type: 'Timestamp', id: 5 },
        completed: { type: 'Timestamp', id: 6 },
        error: { type: 'string', id: 7 },
      },
    },
    VertexLog: {
      fields: {
        vertex: { type: 'string', id: 1 },
        msg: { type: 'bytes', id: 4 },
      },
    },
    Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
  },
});
const StatusResponse = root.lookupType('StatusResponse');

interface Vertex {
  digest?: string;
  name?: string;
  cached?: boolean;
  started?: object;
  completed?: object;
  error?: string;
}

interface StatusMessage {
  vertexes?: Vertex[];
  logs?: { vertex?: string; msg?: Uint8Array }[];
}

/**
 * Turns a build's BuildKit trace messages into readable output: each step once when it
 * starts (or as cached), its command output as it arrives, and errors.
 */
export class BuildKitProgress {
  private readonly announced = new Set<string>();

  constructor(
    private readonly onText: (text: string) => void,
    /** Readable step names (see BuildRequest.steps); without them, BuildKit's own names. */
    private readonly steps?: readonly { marker: string; name: string }[],
  ) {}

  /** `aux` is the base64 payload of a `moby.buildkit.trace` message. */
  write(aux: string): void {
    const status = StatusResponse.decode(Buffer.from(aux, 'base64')) as unknown as StatusMessage;
    for (const vertex of status.vertexes ?? []) {
      const name = vertex.name ?? '';
      const key = vertex.digest ?? name;
      // BuildKit's own bookkeeping steps say nothing a developer needs.
      if (name.startsWith('[internal]') || name === '' || this.announced.has(key)) continue;
      if (!vertex.cached && !vertex.started) continue;
      this.announced.add(key);
      const shown = this.steps === undefined ? name : this.steps.find((s) => name.includes(s.marker))?.name;
      if (shown !== undefined) this.onText(vertex.cached ? `${shown} (cached)\n` : `${shown}\n`);
    }
    for (const log of status.logs ?? []) {
      if (log.msg && log.msg.length > 0) this.onText(Buffer.from(log.msg).toString('utf8'));
    }
  }
}
