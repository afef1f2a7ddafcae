// The postdeploy hook: runs in a one-off container after the new web container has booted
// and before it receives any traffic. If it exits non-zero, the deploy fails with hook-error
// and the previous version keeps serving.
const steps = ['001_create_visits', '002_add_visited_at_index'];

async function main() {
  console.log(`Migrating ${process.env.APP} to ${String(process.env.CONTAINER_VERSION).slice(0, 7)} (${process.env.CONTAINER})`);
  for (const step of steps) {
    process.stdout.write(`applying ${step} ... `);
    await new Promise((resolve) => setTimeout(resolve, 300));
    console.log('done');
  }
  console.log('migrations complete');
}

main().catch((error) => {
  console.error(`migration failed: ${error.message}`);
  process.exit(1);
});
