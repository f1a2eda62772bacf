// The action's main step: start.sh with the inputs (GitHub passes them as INPUT_* variables),
// or stop.sh when `stop: true` (to stop the server, and have its reports, before a later
// step uploads them).
const { spawnSync } = require("child_process");
const path = require("path");

const stop = (process.env.INPUT_STOP || "").toLowerCase() === "true";
const script = path.join(__dirname, stop ? "stop.sh" : "start.sh");
const result = spawnSync("bash", [script], { stdio: "inherit", env: process.env });
process.exit(result.status === null ? 1 : result.status);
