import Docker from 'dockerode';

const docker = new Docker();

/** Names of the containers (running or not) that belong to an app, sorted. */
export async function appContainers(app: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`slipway.app=${app}`] } });
  return list.map((c) => (c.Names[0] ?? '').replace(/^\//, '')).sort();
}

export async function imageExists(image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Removes everything an app left behind, so one test never sees another's containers. */
export async function removeApp(app: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`slipway.app=${app}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  const images = await docker.listImages({ filters: { label: [`slipway.app=${app}`] } });
  await Promise.all(
    images.map((i) =>
      docker
        .getImage(i.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

export async function containerLogs(name: string): Promise<string> {
  const buffer = (await docker.getContainer(name).logs({ stdout: true, stderr: true })) as unknown as Buffer;
  return buffer.toString('utf8');
}
