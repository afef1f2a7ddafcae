/** A failure the CLI reports as one sentence, with a non-zero exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The server's lower-case message as the CLI's sentence; a leading name (web-1, my-app, www.example.com) keeps its case. */
export function sentence(message: string): string {
  const capitalized = /^[a-z]+(?![-=.\w])/.test(message) ? `${message.charAt(0).toUpperCase()}${message.slice(1)}` : message;
  return `${capitalized}.`.replace(/\.\.$/, '.');
}
