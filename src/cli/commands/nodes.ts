import type { Command } from '../command.js';
import { printJson, table } from '../output.js';

interface NodeJson {
  name: string;
  address: string;
  role: string;
  state: string;
  availability: string;
  tasks: number;
}

export const nodeCommands: Command[] = [
  {
    name: 'nodes',
    aliases: ['node:list'],
    summary: 'the machines apps run on: address, role, state, availability, app processes',
    usage: 'slipway nodes [--json]',
    example: 'slipway nodes',
    async run(ctx) {
      const nodes = await ctx.api().json<NodeJson[]>('GET', '/api/nodes');
      if (ctx.out.json) return printJson(ctx.out, nodes);
      ctx.out.write(
        table(
          ['NAME', 'ADDRESS', 'ROLE', 'STATE', 'AVAILABILITY', 'TASKS'],
          nodes.map((n) => [n.name, n.address, n.role, n.state, n.availability, n.tasks]),
        ),
      );
    },
  },
];
