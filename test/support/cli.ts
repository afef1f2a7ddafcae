// The CLI runner lives beside the server it talks to (server.ts); files not yet moved import it from here.
export { cliRunner, type CliOptions } from './server.js';
