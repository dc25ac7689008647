/**
 * A webhook receiver for `ours-webhooks`: answers every POST with 200 at once, as a Laravel
 * route that queues the work would. Its own process, so its CPU is neither the server's nor the
 * runner's. Prints `listening on <port>`; exits with its parent (BENCH_PARENT_PID).
 */
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    await request.arrayBuffer();
    return new Response(null, { status: 200 });
  },
});
console.log(`listening on ${server.port}`);

const parent = Number(process.env.BENCH_PARENT_PID);
if (parent) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1000);
}
