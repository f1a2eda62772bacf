// Sends one ordinary message with nodemailer at its default settings (opportunistic
// STARTTLS, no AUTH), the way an application's mail code does.
// Usage: node nodemailer_send.js HOST PORT
const path = require("path");
const nodemailer = require(path.join(__dirname, "../../../ci/node/node_modules/nodemailer"));

const [host, port] = process.argv.slice(2);
const transport = nodemailer.createTransport({ host, port: Number(port) });
transport
  .sendMail({
    from: "Alice <alice@example.com>",
    to: "Bob <bob@example.org>",
    subject: "hello from nodemailer",
    text: "Hello Bob,\nthis is nodemailer at its defaults.\n",
    html: "<p>Hello Bob,<br>this is <b>nodemailer</b> at its defaults.</p>",
  })
  .then((info) => console.log(JSON.stringify({ ok: true, response: info.response })))
  .catch((error) => {
    console.log(JSON.stringify({ ok: false, error: String(error) }));
    process.exit(1);
  });
