/** Small apps on the local busybox image: they build in a fraction of a second. */

export const BUSYBOX_DOCKERFILE = `FROM slipway/test-busybox:latest
COPY . /app
WORKDIR /app
`;

/** A web process that serves /app over HTTP, with /version.txt telling which commit serves. */
export const WEB = 'echo "$CONTAINER_VERSION" > /app/version.txt && env > /app/env.txt && exec httpd -f -p 127.0.0.1:$PORT -h /app';

export function procfile(lines: Record<string, string>): string {
  return `${Object.entries(lines)
    .map(([type, command]) => `${type}: ${command}`)
    .join('\n')}\n`;
}

export function busyboxApp(processes: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return { Dockerfile: BUSYBOX_DOCKERFILE, Procfile: procfile(processes), 'index.html': 'hello\n', ...extra };
}
