"""Python's smtplib over TLS and with AUTH, against the fake server; reports as JSON.

Usage: tls_client.py HOST PORT [--ssl | --starttls] [--cafile F] [--user U --secret S]
                     [--mechanism M] [--no-send]
--ssl: implicit TLS (SMTP_SSL); --starttls: STARTTLS after EHLO.
--mechanism: PLAIN, LOGIN, CRAM-MD5 (smtplib's own), XOAUTH2, OAUTHBEARER (formatted here
per Google's page and RFC 7628), SCRAM-SHA-1, SCRAM-SHA-256 (the scramp package); without
it, smtplib.login() chooses.
"""
import argparse
import json
import smtplib
import ssl

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("--ssl", action="store_true")
parser.add_argument("--starttls", action="store_true")
parser.add_argument("--cafile")
parser.add_argument("--user")
parser.add_argument("--secret")
parser.add_argument("--mechanism")
parser.add_argument("--no-send", action="store_true")
args = parser.parse_args()


def context():
    ctx = ssl.create_default_context(cafile=args.cafile)
    return ctx


def error_json(e):
    out = {"type": type(e).__name__, "message": str(e)}
    if isinstance(e, smtplib.SMTPResponseException):
        out["code"] = e.smtp_code
        out["message"] = e.smtp_error.decode("latin-1") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    if isinstance(e, ssl.SSLCertVerificationError):
        out["verify_message"] = e.verify_message
    return out


def authenticate(smtp):
    mech = (args.mechanism or "").upper()
    if not mech:
        return smtp.login(args.user, args.secret)
    smtp.user, smtp.password = args.user, args.secret
    if mech == "PLAIN":
        return smtp.auth("PLAIN", smtp.auth_plain)
    if mech == "LOGIN":
        return smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
    if mech == "LOGIN-IR":  # what smtplib.login() does: the user name on the AUTH line
        return smtp.auth("LOGIN", smtp.auth_login)
    if mech == "CRAM-MD5":
        return smtp.auth("CRAM-MD5", smtp.auth_cram_md5, initial_response_ok=False)
    if mech == "XOAUTH2":
        state = {"sent": False}
        def xoauth2(challenge=None):
            if state["sent"]:
                return ""  # the error challenge is answered with an empty line
            state["sent"] = True
            return "user=%s\x01auth=Bearer %s\x01\x01" % (args.user, args.secret)
        return smtp.auth("XOAUTH2", xoauth2)
    if mech == "OAUTHBEARER":
        state = {"sent": False}
        def oauthbearer(challenge=None):
            if state["sent"]:
                return "\x01"  # RFC 7628 §3.2.3
            state["sent"] = True
            return "n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01" % (args.user, args.host, args.port, args.secret)
        return smtp.auth("OAUTHBEARER", oauthbearer)
    if mech.startswith("SCRAM-"):
        import scramp
        client = scramp.ScramClient([mech], args.user, args.secret)
        state = {"step": 0}
        def scram(challenge=None):
            state["step"] += 1
            if challenge is None:
                return client.get_client_first()
            if state["step"] == 2:
                client.set_server_first(challenge.decode())
                return client.get_client_final()
            client.set_server_final(challenge.decode())  # raises if the signature is wrong
            return ""
        return smtp.auth(mech, scram)
    raise SystemExit("unknown mechanism " + mech)


result = {}
try:
    if args.ssl:
        smtp = smtplib.SMTP_SSL(args.host, args.port, context=context(), timeout=20)
    else:
        smtp = smtplib.SMTP(args.host, args.port, timeout=20)
    with smtp:
        smtp.ehlo()
        result["features_before"] = sorted(smtp.esmtp_features)
        if args.starttls:
            smtp.starttls(context=context())
            smtp.ehlo()
            result["features_after"] = sorted(smtp.esmtp_features)
        if args.ssl or args.starttls:
            result["tls_version"] = smtp.sock.version()
        if args.user:
            code, _ = authenticate(smtp)
            result["auth"] = code
        if not args.no_send:
            smtp.sendmail("alice@example.com", ["bob@example.org"], "Subject: over tls\r\n\r\nsecret body\r\n")
            result["sent"] = True
    result["ok"] = True
except Exception as e:
    result["ok"] = False
    result["error"] = error_json(e)
print(json.dumps(result))
