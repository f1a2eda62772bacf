// The action's post step (at the end of the job, whatever happened): stops the server if it
// still runs, so that its reports are written and its log is shown.
const { spawnSync } = require("child_process");
const path = require("path");

const result = spawnSync("bash", [path.join(__dirname, "stop.sh")], {
  stdio: "inherit",
  env: process.env,
});
process.exit(result.status === null ? 1 : result.status);
