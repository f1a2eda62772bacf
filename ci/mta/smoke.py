"""Checks a running `ci/mta.sh` instance with Python's smtplib (and scramp for SCRAM).

Usage: python3 ci/mta/smoke.py DIR [--transcripts FILE]

Reads DIR/ports, DIR/credentials and DIR/ca.pem; checks what the three listeners say and do,
waits for accepted mail in DIR/maildir/new, and writes every session (C:/S: lines exactly as
smtplib sent and received them) to FILE (default DIR/smoke-transcripts.txt). Prints one line
per check; exits 1 if any check failed.
"""
import argparse
import ast
import os
import smtplib
import ssl
import sys
import time
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("dir")
parser.add_argument("--transcripts")
args = parser.parse_args()
DIR = os.path.abspath(args.dir)


def read_kv(name):
    out = {}
    with open(os.path.join(DIR, name)) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            out[key] = value
    return out


PORTS = {k: int(v.rsplit(":", 1)[1]) for k, v in read_kv("ports").items()}
CREDS = read_kv("credentials")
USER, PASSWORD = CREDS["user"], CREDS["password"]
CA = os.path.join(DIR, "ca.pem")
MAILDIR_NEW = os.path.join(DIR, "maildir", "new")
HOST = "127.0.0.1"
RUN = uuid.uuid4().hex[:12]  # marks this run's messages

TRANSCRIPTS = []
FAILURES = []


def check(cond, what, detail=""):
    if cond:
        print("ok    %s" % what)
    else:
        print("FAIL  %s%s" % (what, (": " + detail) if detail else ""))
        FAILURES.append(what)
    return cond


class Recorder:
    """smtplib's debug output, turned into C:/S: lines."""

    def __init__(self, title):
        self.lines = []
        TRANSCRIPTS.append((title, self.lines))

    def note(self, text):
        self.lines.append("-- " + text)

    def hook(self, *parts):
        if len(parts) == 2 and parts[0] in ("send:", "reply:"):
            data = ast.literal_eval(parts[1])
            if isinstance(data, bytes):
                data = data.decode("utf-8", "backslashreplace")
            prefix = "C: " if parts[0] == "send:" else "S: "
            lines = data.split("\r\n")
            if lines[-1] == "":
                lines.pop()  # after the final CRLF; an empty line sent on purpose stays
            self.lines.extend(prefix + line for line in lines)


def _attach(s, rec):
    # The session is created without a host, so that the greeting is recorded too; smtplib
    # takes the TLS server name from _host, which only its constructor sets.
    s._host = HOST
    s._print_debug = rec.hook
    s.set_debuglevel(1)


def plain_session(port, title):
    rec = Recorder(title)
    s = smtplib.SMTP(timeout=20)
    _attach(s, rec)
    s.connect(HOST, port)
    return s, rec


def tls_session(port, title, ctx=None):
    rec = Recorder(title)
    s = smtplib.SMTP_SSL(context=ctx or context(), timeout=20)
    _attach(s, rec)
    s.connect(HOST, port)
    # The handshake came before the greeting: put the note first.
    rec.lines.insert(0, "-- implicit TLS: %s, %s" % (s.sock.version(), s.sock.cipher()[0]))
    return s, rec


def context():
    # Verifies the chain against DIR/ca.pem and the name (smtplib passes the host, 127.0.0.1).
    return ssl.create_default_context(cafile=CA)


def starttls(s, rec):
    code, _ = s.starttls(context=context())
    rec.note("STARTTLS done: %s, %s" % (s.sock.version(), s.sock.cipher()[0]))
    return code


def message(tag, sender, rcpts):
    return (
        "From: <%s>\r\nTo: %s\r\nSubject: mta smoke %s %s\r\nMessage-ID: <%s.%s@client.test.example>\r\n\r\n"
        "Body of %s.\r\n" % (sender, ", ".join("<%s>" % r for r in rcpts), tag, RUN, tag, RUN, tag)
    )


def arrived(tag, rcpts, timeout=15):
    """Waits until DIR/maildir/new holds one copy of message TAG per recipient."""
    marker = "Subject: mta smoke %s %s" % (tag, RUN)
    deadline = time.monotonic() + timeout
    found = []
    while True:
        found = []
        for name in os.listdir(MAILDIR_NEW):
            with open(os.path.join(MAILDIR_NEW, name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if marker in text:
                for line in text.split("\n"):
                    if line.startswith("Delivered-To: "):
                        found.append(line[len("Delivered-To: "):].strip().lower())
        if sorted(found) == sorted(r.lower() for r in rcpts):
            return True, found
        if time.monotonic() > deadline:
            return False, found
        time.sleep(0.1)


def send_and_check(s, tag, sender, rcpts, what):
    refused = s.sendmail(sender, rcpts, message(tag, sender, rcpts))
    check(refused == {}, what + ": all recipients accepted", repr(refused))
    ok, found = arrived(tag, rcpts)
    check(ok, what + ": arrived in maildir/new for " + ", ".join(rcpts), "found %r" % found)


def features(s):
    return {k.upper(): v for k, v in s.esmtp_features.items()}


def auth(s, mechanism, password=PASSWORD, initial_response_ok=True):
    s.user, s.password = USER, password
    if mechanism.startswith("SCRAM-"):
        import scramp  # the third-party SCRAM client the fake-server tests use too

        client = scramp.ScramClient([mechanism], USER, password)
        state = {"step": 0}

        def scram(challenge=None):
            state["step"] += 1
            if challenge is None:
                return client.get_client_first()
            if state["step"] == 2:
                client.set_server_first(challenge.decode())
                return client.get_client_final()
            client.set_server_final(challenge.decode())  # raises if the server's proof is wrong
            return ""

        return s.auth(mechanism, scram, initial_response_ok=initial_response_ok)
    obj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mechanism]
    return s.auth(mechanism, obj, initial_response_ok=initial_response_ok)


def expect_error(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    except smtplib.SMTPRecipientsRefused as e:
        (code, text), = e.recipients.values()
        return code, text.decode("utf-8", "replace")
    return None, "no error"


# ------------------------------------------------------------------ 2525: relay-style MX

def smtp_port():
    port = PORTS["smtp"]
    s, rec = plain_session(port, "smtp %d: EHLO, refusals, delivery" % port)
    check(s.ehlo("client.test.example")[0] == 250, "smtp: EHLO 250")
    f = features(s)
    check("STARTTLS" in f and "AUTH" not in f, "smtp: EHLO offers STARTTLS and no AUTH", repr(f))
    code, text = s.docmd("AUTH PLAIN AGhhcm5lc3MAeA==")
    check(code == 503, "smtp: AUTH refused (503)", "%d %s" % (code, text))
    s.docmd("MAIL FROM:<sender@outside.example>")
    code, text = s.docmd("RCPT TO:<someone@example.com>")
    check(code == 554 and b"Relay access denied" in text, "smtp: RCPT to an outside domain refused (554 Relay access denied)", "%d %s" % (code, text))
    code, text = s.docmd("RCPT TO:<unknown@test.example>")
    check(code == 550 and text.startswith(b"5.1.1"), "smtp: RCPT to unknown@test.example refused (550 5.1.1)", "%d %s" % (code, text))
    code, text = s.docmd("RCPT TO:<root@[127.0.0.1]>")
    check(code == 550, "smtp: RCPT to an address literal (local delivery) refused", "%d %s" % (code, text))
    s.rset()
    send_and_check(s, "relay", "sender@outside.example", ["alice@test.example", "bob@test.example"], "smtp: relay-style delivery")
    s.quit()

    s, rec = plain_session(port, "smtp %d: opportunistic STARTTLS" % port)
    s.ehlo("client.test.example")
    check(starttls(s, rec) == 220, "smtp: STARTTLS verified against ca.pem")
    s.ehlo("client.test.example")
    send_and_check(s, "relay-tls", "sender@outside.example", ["carol@test.example"], "smtp: delivery over STARTTLS")
    s.quit()


# ------------------------------------------------------------------ 2587: submission

def submission_port():
    port = PORTS["submission"]
    s, rec = plain_session(port, "submission %d: before and after STARTTLS, refusals" % port)
    s.ehlo("client.test.example")
    f = features(s)
    check("STARTTLS" in f and "AUTH" not in f, "submission: EHLO before TLS offers STARTTLS, no AUTH", repr(f))
    code, text = s.docmd("MAIL FROM:<%s>" % USER)
    check(code == 530, "submission: MAIL before STARTTLS refused (530)", "%d %s" % (code, text))
    code, text = s.docmd("AUTH PLAIN " + "AGhhcm5lc3NAdGVzdC5leGFtcGxlAGhhcm5lc3MtcGFzc3dvcmQ=")
    check(code == 530, "submission: AUTH before STARTTLS refused (530)", "%d %s" % (code, text))
    check(starttls(s, rec) == 220, "submission: STARTTLS verified against ca.pem")
    s.ehlo("client.test.example")
    f = features(s)
    mechs = f.get("AUTH", "").split()
    check("STARTTLS" not in f and {"PLAIN", "LOGIN"} <= set(mechs), "submission: EHLO after TLS offers AUTH PLAIN LOGIN", repr(f))
    code, text = s.docmd("MAIL FROM:<%s>" % USER)
    check(code >= 500, "submission: MAIL without AUTH refused (5xx)", "%d %s" % (code, text))
    s.rset()
    code, text = expect_error(auth, s, "PLAIN", password="wrong-password")
    check(code == 535, "submission: AUTH PLAIN with a wrong password refused (535)", "%s %s" % (code, text))
    code, text = expect_error(auth, s, "LOGIN", password="wrong-password", initial_response_ok=False)
    check(code == 535, "submission: AUTH LOGIN with a wrong password refused (535)", "%s %s" % (code, text))
    code, _ = auth(s, "PLAIN")
    check(code == 235, "submission: AUTH PLAIN accepted (235)")
    send_and_check(s, "submission-plain", USER, ["dave@test.example"], "submission: AUTH PLAIN send")
    code, text = expect_error(s.sendmail, USER, ["someone@example.com"], message("outside", USER, ["someone@example.com"]))
    check(code is not None and code >= 500, "submission: authenticated mail to an outside domain refused at RCPT", "%s %s" % (code, text))
    s.quit()

    for mech, initial in (("LOGIN", False), ("LOGIN", True), ("CRAM-MD5", True), ("SCRAM-SHA-1", True), ("SCRAM-SHA-256", True)):
        label = mech + (" (initial response)" if mech == "LOGIN" and initial else "")
        s, rec = plain_session(port, "submission %d: AUTH %s" % (port, label))
        s.ehlo("client.test.example")
        starttls(s, rec)
        s.ehlo("client.test.example")
        try:
            code, _ = auth(s, mech, initial_response_ok=initial)
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            code = repr(e)
        check(code == 235, "submission: AUTH %s accepted (235)" % label, str(code))
        tag = "submission-" + label.split()[0].lower() + ("-ir" if "initial" in label else "")
        send_and_check(s, tag, USER, ["erin@test.example"], "submission: AUTH %s send" % label)
        s.quit()

    # The certificate is really checked: without DIR/ca.pem, STARTTLS must fail.
    s, rec = plain_session(port, "submission %d: STARTTLS without trusting ca.pem" % port)
    s.ehlo("client.test.example")
    try:
        s.starttls(context=ssl.create_default_context())
        verified = True
    except ssl.SSLCertVerificationError as e:
        rec.note("certificate verification failed as expected: %s" % e.verify_message)
        verified = False
    check(not verified, "submission: the certificate does not verify without ca.pem")
    s.close()


# ------------------------------------------------------------------ 2465: implicit TLS

def smtps_port():
    port = PORTS["smtps"]
    s, rec = tls_session(port, "smtps %d: implicit TLS, AUTH PLAIN, send" % port)
    s.ehlo("client.test.example")
    f = features(s)
    check("STARTTLS" not in f and "PLAIN" in f.get("AUTH", "").split(), "smtps: EHLO offers AUTH, no STARTTLS", repr(f))
    code, text = s.docmd("MAIL FROM:<%s>" % USER)
    check(code >= 500, "smtps: MAIL without AUTH refused (5xx)", "%d %s" % (code, text))
    s.rset()
    code, _ = auth(s, "PLAIN")
    check(code == 235, "smtps: AUTH PLAIN accepted (235)")
    send_and_check(s, "smtps", USER, ["frank@test.example", "grace@test.example"], "smtps: send")
    s.quit()

    s, rec = tls_session(port, "smtps %d: wrong password" % port)
    s.ehlo("client.test.example")
    code, text = expect_error(auth, s, "LOGIN", password="wrong-password")
    check(code == 535, "smtps: wrong password refused (535)", "%s %s" % (code, text))
    s.quit()


for part in (smtp_port, submission_port, smtps_port):
    try:
        part()
    except Exception as e:  # noqa: BLE001 - a crash is one more failed check, with its reason
        check(False, part.__name__, repr(e))

out = args.transcripts or os.path.join(DIR, "smoke-transcripts.txt")
with open(out, "w") as f:
    for title, lines in TRANSCRIPTS:
        f.write("=== %s\n" % title)
        f.write("\n".join(lines) + "\n\n")
print("transcripts: %s" % out)
if FAILURES:
    print("%d check(s) failed: %s" % (len(FAILURES), "; ".join(FAILURES)))
    sys.exit(1)
