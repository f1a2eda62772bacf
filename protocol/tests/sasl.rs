//! SASL: known answers from the RFCs (and Google's XOAUTH2 page) run through the exchanges,
//! client ↔ server round trips for every mechanism with their failure flows, and property
//! tests that no input panics either side.
//!
//! The wire is simulated as SMTP would carry it: the initial response on the AUTH line (or
//! `334 ` asking for it), each challenge as the base64 text after `334 `, each response as a
//! line of base64, `*` to cancel.

use std::collections::HashMap;

use proptest::prelude::*;
use smtp_protocol::sasl::client::ChannelBindingFlag;
use smtp_protocol::sasl::{
    decode, encode, encode_initial_response, Base64Error, Claim, ClientError, ClientExchange,
    ClientOptions, Credentials, Identity, LoginInitialResponse, LoginPrompts, Mechanism, ScramHash,
    ScramKeys, ServerContext, ServerExchange, ServerFailure, ServerOptions, ServerStep, UserSecret,
    CANCEL,
};

// ---------------------------------------------------------------------------------------------
// The simulated session
// ---------------------------------------------------------------------------------------------

/// The users the simulated server knows.
struct Directory {
    passwords: HashMap<String, String>,
    tokens: HashMap<String, String>,
    salt: Vec<u8>,
    iterations: u32,
}

impl Directory {
    fn new() -> Directory {
        let mut directory = Directory {
            passwords: HashMap::new(),
            tokens: HashMap::new(),
            salt: b"salt for the tests".to_vec(),
            iterations: 4096,
        };
        directory
            .passwords
            .insert("tim".into(), "tanstaaftanstaaf".into());
        directory
            .passwords
            .insert("a,b=c".into(), "p=ss,word".into());
        directory.tokens.insert(
            "someuser@example.com".into(),
            "ya29.vF9dft4qmTc2Nvb3Rlck".into(),
        );
        directory
    }

    fn secret(&self, username: &str) -> Option<UserSecret> {
        self.passwords
            .get(username)
            .map(|password| UserSecret::Password {
                password: password.clone(),
                salt: self.salt.clone(),
                iterations: self.iterations,
            })
    }

    fn check(&self, claim: &Claim) -> bool {
        match claim {
            Claim::Password(claim) => self
                .passwords
                .get(&claim.username)
                .is_some_and(|p| claim.password_matches(p)),
            Claim::CramMd5(claim) => self
                .passwords
                .get(&claim.username)
                .is_some_and(|p| claim.verify(p)),
            Claim::Bearer(claim) => claim
                .user
                .as_ref()
                .and_then(|user| self.tokens.get(user))
                .is_some_and(|t| claim.token_matches(t)),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 235, and the client accepted it.
    Authenticated(Identity),
    /// 235, but the client refused it (SCRAM without a valid `v=`).
    ClientRefusedSuccess(ClientError),
    /// The server failed the exchange.
    Failed(ServerFailure),
}

struct Run {
    /// `C:` / `S:` lines as SMTP would show them (without the AUTH command's own line when
    /// the initial response is on it; that one is `C: AUTH <mech> <ir>`).
    wire: Vec<String>,
    outcome: Outcome,
    /// The first error the client reported (it then sent `*`).
    client_error: Option<ClientError>,
    client: ClientExchange,
}

/// Hooks that let a test play a man in the middle: they see and may change the decoded
/// octets of the n-th challenge or response.
struct Tamper<'a> {
    challenge: &'a dyn Fn(usize, Vec<u8>) -> Vec<u8>,
    response: &'a dyn Fn(usize, Vec<u8>) -> Vec<u8>,
}

const NO_TAMPERING: Tamper<'static> = Tamper {
    challenge: &|_, c| c,
    response: &|_, r| r,
};

fn context() -> ServerContext {
    ServerContext::new("mx.example.net", "3rfcNHYJY1ZVvWVs7j", 1_700_000_000).expect("context")
}

fn client_options() -> ClientOptions {
    ClientOptions {
        oauth_host: Some("mx.example.net".into()),
        oauth_port: Some(587),
        ..ClientOptions::default()
    }
}

/// Runs one exchange through the simulated wire.
fn run_with(
    mechanism: Mechanism,
    credentials: &Credentials,
    send_initial_response: bool,
    options: &ServerOptions,
    directory: &Directory,
    tamper: &Tamper<'_>,
) -> Run {
    let mut client = ClientExchange::new(
        mechanism,
        credentials,
        "fyko+d2lbbFgONRv9qkxdawL",
        &client_options(),
    )
    .expect("client");
    let mut wire = Vec::new();
    let initial = if send_initial_response {
        client
            .initial_response()
            .map(|ir| encode_initial_response(&ir))
    } else {
        None
    };
    match &initial {
        Some(ir) => wire.push(format!("C: AUTH {mechanism} {ir}")),
        None => wire.push(format!("C: AUTH {mechanism}")),
    }
    let (mut server, mut step) =
        ServerExchange::start(mechanism, initial.as_deref(), options, &context());
    let mut client_error = None;
    let (mut challenges, mut responses) = (0, 0);
    for _ in 0..10 {
        step = match step {
            ServerStep::Challenge(challenge) => {
                let challenge = (tamper.challenge)(challenges, challenge);
                challenges += 1;
                let text = encode(&challenge);
                wire.push(format!("S: 334 {text}"));
                let line = match client.respond(&text) {
                    Ok(response) => {
                        let response = (tamper.response)(responses, response);
                        responses += 1;
                        encode(&response)
                    }
                    Err(error) => {
                        client_error.get_or_insert(error);
                        CANCEL.to_owned()
                    }
                };
                wire.push(format!("C: {line}"));
                server.respond(line.as_bytes())
            }
            ServerStep::NeedSecret { username, .. } => {
                server.provide_secret(directory.secret(&username))
            }
            ServerStep::Verify(claim) => server.verdict(directory.check(&claim)),
            ServerStep::Success(identity) => {
                wire.push("S: 235 2.7.0 Authentication successful".into());
                let outcome = match client.finish() {
                    Ok(()) => Outcome::Authenticated(identity),
                    Err(error) => Outcome::ClientRefusedSuccess(error),
                };
                assert!(server.is_finished());
                return Run {
                    wire,
                    outcome,
                    client_error,
                    client,
                };
            }
            ServerStep::Failure(failure) => {
                wire.push(format!("S: 5xx {failure}"));
                assert!(server.is_finished());
                return Run {
                    wire,
                    outcome: Outcome::Failed(failure),
                    client_error,
                    client,
                };
            }
        };
    }
    panic!("the exchange did not end: {wire:#?}");
}

fn simulate(mechanism: Mechanism, credentials: &Credentials, initial: bool) -> Run {
    run_with(
        mechanism,
        credentials,
        initial,
        &ServerOptions::default(),
        &Directory::new(),
        &NO_TAMPERING,
    )
}

fn good_credentials(mechanism: Mechanism) -> Credentials {
    if mechanism.uses_password() {
        Credentials::password("tim", "tanstaaftanstaaf")
    } else {
        Credentials::bearer("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3Rlck")
    }
}

fn wrong_credentials(mechanism: Mechanism) -> Credentials {
    if mechanism.uses_password() {
        Credentials::password("tim", "tanstaaftanstaaF")
    } else {
        Credentials::bearer("someuser@example.com", "ya29.expired")
    }
}

fn tim() -> Identity {
    Identity {
        authzid: None,
        username: Some("tim".into()),
    }
}

fn b64(text: &[u8]) -> String {
    encode(text)
}

// ---------------------------------------------------------------------------------------------
// Known answers
// ---------------------------------------------------------------------------------------------

/// RFC 5802 §5: user `user`, password `pencil`, both nonces and the salt as printed there.
#[test]
fn rfc_5802_scram_sha_1_example_server_side() {
    let context = context()
        .with_scram_nonce("3rfcNHYJY1ZVvWVs7j")
        .expect("nonce");
    let (mut server, step) = ServerExchange::start(
        Mechanism::ScramSha1,
        Some(&b64(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")),
        &ServerOptions::default(),
        &context,
    );
    assert_eq!(
        step,
        ServerStep::NeedSecret {
            username: "user".into(),
            authzid: None
        }
    );
    let step = server.provide_secret(Some(UserSecret::Password {
        password: "pencil".into(),
        salt: decode(b"QSXCR+Q6sek8bf92").expect("salt"),
        iterations: 4096,
    }));
    assert_eq!(
        step,
        ServerStep::Challenge(
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096".to_vec()
        )
    );
    let client_final =
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    assert_eq!(
        server.respond(b64(client_final).as_bytes()),
        ServerStep::Challenge(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".to_vec())
    );
    assert_eq!(
        server.respond(b""),
        ServerStep::Success(Identity {
            authzid: None,
            username: Some("user".into())
        })
    );
}

#[test]
fn rfc_5802_scram_sha_1_example_client_side() {
    let mut client = ClientExchange::new(
        Mechanism::ScramSha1,
        &Credentials::password("user", "pencil"),
        "fyko+d2lbbFgONRv9qkxdawL",
        &ClientOptions::default(),
    )
    .expect("client");
    assert_eq!(
        client.initial_response().as_deref(),
        Some(&b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"[..])
    );
    let server_first = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    assert_eq!(
        client.respond(&b64(server_first)),
        Ok(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
                .to_vec()
        )
    );
    assert_eq!(
        client.finish(),
        Err(ClientError::ServerNotAuthenticated),
        "235 before v= must be refused"
    );
    assert_eq!(
        client.respond(&b64(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")),
        Ok(Vec::new())
    );
    assert_eq!(client.finish(), Ok(()));
}

/// RFC 7677 §3, both sides.
#[test]
fn rfc_7677_scram_sha_256_example() {
    let client_first = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    let server_first =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    let client_final = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    let mut client = ClientExchange::new(
        Mechanism::ScramSha256,
        &Credentials::password("user", "pencil"),
        "rOprNGfwEbeRWgbNEkqO",
        &ClientOptions::default(),
    )
    .expect("client");
    assert_eq!(
        client.initial_response().as_deref(),
        Some(&client_first[..])
    );
    assert_eq!(
        client.respond(&b64(server_first)),
        Ok(client_final.to_vec())
    );
    assert_eq!(client.respond(&b64(server_final)), Ok(Vec::new()));
    assert_eq!(client.finish(), Ok(()));

    let context = context()
        .with_scram_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
        .expect("nonce");
    let (mut server, step) = ServerExchange::start(
        Mechanism::ScramSha256,
        Some(&b64(client_first)),
        &ServerOptions::default(),
        &context,
    );
    assert!(matches!(step, ServerStep::NeedSecret { .. }), "{step:?}");
    // Stored keys rather than the password, as a real server would keep them.
    let salt = decode(b"W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
    let keys = ScramKeys::derive(ScramHash::Sha256, "pencil", &salt, 4096).expect("keys");
    assert_eq!(
        server.provide_secret(Some(UserSecret::Keys(keys))),
        ServerStep::Challenge(server_first.to_vec())
    );
    assert_eq!(
        server.respond(b64(client_final).as_bytes()),
        ServerStep::Challenge(server_final.to_vec())
    );
    assert!(matches!(server.respond(b""), ServerStep::Success(_)));
}

/// RFC 2195 §2: challenge, user `tim`, password `tanstaaftanstaaf`, and the digest printed in
/// the RFC, through both exchanges.
#[test]
fn rfc_2195_cram_md5_example() {
    let context =
        ServerContext::new("postoffice.reston.mci.net", "1896", 697170952).expect("context");
    let (mut server, step) = ServerExchange::start(
        Mechanism::CramMd5,
        None,
        &ServerOptions::default(),
        &context,
    );
    let ServerStep::Challenge(challenge) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        b64(&challenge),
        "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
    );
    let mut client = ClientExchange::new(
        Mechanism::CramMd5,
        &Credentials::password("tim", "tanstaaftanstaaf"),
        "unused",
        &ClientOptions::default(),
    )
    .expect("client");
    assert_eq!(client.initial_response(), None);
    let response = client.respond(&b64(&challenge)).expect("response");
    assert_eq!(response, b"tim b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(
        b64(&response),
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    );
    let ServerStep::Verify(Claim::CramMd5(claim)) = server.respond(b64(&response).as_bytes())
    else {
        panic!("verify");
    };
    assert_eq!(claim.username, "tim");
    assert_eq!(
        claim
            .digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        "b913a602c7eda7a495b4e6e7334d3890"
    );
    assert!(claim.verify("tanstaaftanstaaf"));
    assert_eq!(server.verdict(true), ServerStep::Success(tim()));
}

/// RFC 4616 §4: the first example authenticates tim; in the second, Kurt asks to act as Ursel
/// and the server refuses.
#[test]
fn rfc_4616_plain_examples() {
    let options = ServerOptions::default();
    let (mut server, step) = ServerExchange::start(
        Mechanism::Plain,
        Some(&b64(b"\0tim\0tanstaaftanstaaf")),
        &options,
        &context(),
    );
    let ServerStep::Verify(Claim::Password(claim)) = step else {
        panic!("{step:?}")
    };
    assert!(claim.password_matches("tanstaaftanstaaf"));
    assert_eq!(server.verdict(true), ServerStep::Success(tim()));

    let (mut server, step) = ServerExchange::start(
        Mechanism::Plain,
        Some(&b64(b"Ursel\0Kurt\0xipj3plmq")),
        &options,
        &context(),
    );
    let ServerStep::Verify(Claim::Password(claim)) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        (claim.authzid.as_deref(), claim.username.as_str()),
        (Some("Ursel"), "Kurt")
    );
    assert_eq!(
        server.verdict(false),
        ServerStep::Failure(ServerFailure::CredentialsInvalid)
    );

    let mut client = ClientExchange::new(
        Mechanism::Plain,
        &Credentials::password("Kurt", "xipj3plmq").with_authzid("Ursel"),
        "unused",
        &ClientOptions::default(),
    )
    .expect("client");
    assert_eq!(
        client.initial_response().as_deref(),
        Some(&b"Ursel\0Kurt\0xipj3plmq"[..])
    );
}

/// draft-murchison-sasl-login-00 §2.3, with the draft's prompts, and the same exchange with
/// the default `Username:` / `Password:`.
#[test]
fn login_draft_example() {
    let options = ServerOptions {
        login_prompts: LoginPrompts::Draft,
        ..ServerOptions::default()
    };
    let run = run_with(
        Mechanism::Login,
        &Credentials::password("tim", "tanstaaftanstaaf"),
        true,
        &options,
        &Directory::new(),
        &NO_TAMPERING,
    );
    assert_eq!(
        run.wire,
        [
            "C: AUTH LOGIN",
            "S: 334 VXNlciBOYW1lAA==",
            "C: dGlt",
            "S: 334 UGFzc3dvcmQA",
            "C: dGFuc3RhYWZ0YW5zdGFhZg==",
            "S: 235 2.7.0 Authentication successful",
        ]
    );
    let run = simulate(Mechanism::Login, &good_credentials(Mechanism::Login), true);
    assert_eq!(run.wire[1], "S: 334 VXNlcm5hbWU6");
    assert_eq!(run.wire[3], "S: 334 UGFzc3dvcmQ6");
    assert_eq!(run.outcome, Outcome::Authenticated(tim()));
}

/// Google's XOAUTH2 page: the initial response of its example, then the SMTP error flow with
/// the default error JSON and the client's empty line.
#[test]
fn google_xoauth2_example_and_error_flow() {
    let example = "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
    let mut client = ClientExchange::new(
        Mechanism::XOAuth2,
        &Credentials::bearer(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        ),
        "unused",
        &ClientOptions::default(),
    )
    .expect("client");
    let initial = client.initial_response().expect("initial response");
    assert_eq!(b64(&initial), example);

    let (mut server, step) = ServerExchange::start(
        Mechanism::XOAuth2,
        Some(example),
        &ServerOptions::default(),
        &context(),
    );
    let ServerStep::Verify(Claim::Bearer(claim)) = step else {
        panic!("{step:?}")
    };
    assert_eq!(claim.user.as_deref(), Some("someuser@example.com"));
    assert_eq!(claim.token, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let ServerStep::Challenge(error) = server.verdict(false) else {
        panic!("error challenge")
    };
    assert_eq!(
        error,
        br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#
    );
    let response = client.respond(&b64(&error)).expect("acknowledge");
    assert_eq!(
        response, b"",
        "the client answers the error with an empty line"
    );
    assert_eq!(client.server_error(), Some(&error[..]));
    assert_eq!(
        server.respond(b""),
        ServerStep::Failure(ServerFailure::CredentialsInvalid)
    );
}

/// RFC 7628 §4.1 (SMTP form) succeeds; §4.4's failed negotiation goes through the error
/// challenge and `AQ==`.
#[test]
fn rfc_7628_examples() {
    let success = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
    let (mut server, step) = ServerExchange::start(
        Mechanism::OAuthBearer,
        Some(success),
        &ServerOptions::default(),
        &context(),
    );
    let ServerStep::Verify(Claim::Bearer(claim)) = step else {
        panic!("{step:?}")
    };
    assert_eq!(claim.user.as_deref(), Some("user@example.com"));
    assert_eq!(claim.kv("host"), Some("server.example.com"));
    assert_eq!(claim.kv("port"), Some("587"));
    assert!(claim.token_matches("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="));
    assert_eq!(
        server.verdict(true),
        ServerStep::Success(Identity {
            authzid: None,
            username: Some("user@example.com".into())
        })
    );

    let failed = "bix1c2VyPXNvbWV1c2VyQGV4YW1wbGUuY29tLAFhdXRoPUJlYXJlciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnPT0BAQ==";
    let options = ServerOptions {
        oauthbearer_error:
            r#"{"status":"invalid_token","schemes":"bearer mac","scope":"https://mail.example.com/"}"#
                .into(),
        ..ServerOptions::default()
    };
    let (mut server, step) =
        ServerExchange::start(Mechanism::OAuthBearer, Some(failed), &options, &context());
    assert!(matches!(step, ServerStep::Verify(_)), "{step:?}");
    let ServerStep::Challenge(error) = server.verdict(false) else {
        panic!("error challenge")
    };
    // The 334 line of the RFC's example.
    assert_eq!(
        b64(&error),
        "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiLCJzY29wZSI6Imh0dHBzOi8vbWFpbC5leGFtcGxlLmNvbS8ifQ=="
    );
    assert_eq!(
        server.respond(b"AQ=="),
        ServerStep::Failure(ServerFailure::CredentialsInvalid)
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips for every mechanism
// ---------------------------------------------------------------------------------------------

#[test]
fn every_mechanism_authenticates_with_and_without_an_initial_response() {
    for mechanism in Mechanism::ALL {
        for initial in [true, false] {
            let run = simulate(mechanism, &good_credentials(mechanism), initial);
            let expected_user = if mechanism.uses_password() {
                "tim"
            } else {
                "someuser@example.com"
            };
            assert_eq!(
                run.outcome,
                Outcome::Authenticated(Identity {
                    authzid: None,
                    username: Some(expected_user.into())
                }),
                "{mechanism} initial={initial}: {:#?}",
                run.wire
            );
            assert_eq!(run.client_error, None);
            // Without an initial response a client-first mechanism is asked with `334 `.
            if !initial && mechanism.is_client_first() {
                assert_eq!(run.wire[1], "S: 334 ", "{mechanism}");
            }
            // SCRAM ends with v= as a challenge and an empty line from the client.
            if matches!(mechanism, Mechanism::ScramSha1 | Mechanism::ScramSha256) {
                let n = run.wire.len();
                assert!(run.wire[n - 3].starts_with("S: 334 dj1"), "{:#?}", run.wire);
                assert_eq!(run.wire[n - 2], "C: ");
            }
        }
    }
}

#[test]
fn every_mechanism_refuses_a_wrong_password_or_token() {
    for mechanism in Mechanism::ALL {
        let run = simulate(mechanism, &wrong_credentials(mechanism), true);
        assert_eq!(
            run.outcome,
            Outcome::Failed(ServerFailure::CredentialsInvalid),
            "{mechanism}: {:#?}",
            run.wire
        );
        assert_eq!(run.client_error, None, "{mechanism}");
    }
}

/// The XOAUTH2 / OAUTHBEARER error flows (S-XOAUTH2-SERVER, S-7628-SERVER) on the wire.
#[test]
fn bearer_error_flows_on_the_wire() {
    let run = simulate(
        Mechanism::XOAuth2,
        &wrong_credentials(Mechanism::XOAuth2),
        true,
    );
    assert_eq!(run.wire.len(), 4, "{:#?}", run.wire);
    assert_eq!(
        run.wire[1],
        "S: 334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ=="
    );
    assert_eq!(
        run.wire[2], "C: ",
        "XOAUTH2 acknowledges with an empty line"
    );
    assert!(run.client.server_error().is_some());

    let run = simulate(
        Mechanism::OAuthBearer,
        &wrong_credentials(Mechanism::OAuthBearer),
        true,
    );
    let error = decode(run.wire[1].trim_start_matches("S: 334 ").as_bytes()).expect("json");
    assert!(error.starts_with(br#"{"status":"invalid_token""#));
    assert_eq!(run.wire[2], "C: AQ==", "OAUTHBEARER acknowledges with %x01");
    assert_eq!(
        run.outcome,
        Outcome::Failed(ServerFailure::CredentialsInvalid)
    );

    // A client copying its XOAUTH2 habit into OAUTHBEARER (and the reverse) is caught.
    for (mechanism, wrong_ack) in [
        (Mechanism::OAuthBearer, &b""[..]),
        (Mechanism::XOAuth2, b"AQ=="),
    ] {
        let mut client = ClientExchange::new(
            mechanism,
            &wrong_credentials(mechanism),
            "unused",
            &ClientOptions::default(),
        )
        .expect("client");
        let initial = encode_initial_response(&client.initial_response().expect("ir"));
        let (mut server, step) = ServerExchange::start(
            mechanism,
            Some(&initial),
            &ServerOptions::default(),
            &context(),
        );
        assert!(matches!(step, ServerStep::Verify(_)));
        assert!(matches!(server.verdict(false), ServerStep::Challenge(_)));
        assert!(
            matches!(
                server.respond(wrong_ack),
                ServerStep::Failure(ServerFailure::Malformed { .. })
            ),
            "{mechanism}"
        );
    }

    // RFC 7628 §4.3: `auth=` empty asks for the error without a token to verify.
    let (mut server, step) = ServerExchange::start(
        Mechanism::OAuthBearer,
        Some(&b64(
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=\x01\x01",
        )),
        &ServerOptions::default(),
        &context(),
    );
    assert!(matches!(step, ServerStep::Challenge(_)), "{step:?}");
    assert_eq!(
        server.respond(b"*"),
        ServerStep::Failure(ServerFailure::Cancelled)
    );
}

/// `*` at every point where the server waits for a line cancels the exchange (S-4954-CANCEL).
#[test]
fn every_mechanism_can_be_cancelled_at_every_challenge() {
    for mechanism in Mechanism::ALL {
        let mut exercised = 0;
        for initial in [true, false] {
            for at in 0..4 {
                let mut challenges = 0;
                let failure = drive_cancel(mechanism, initial, at, &mut challenges);
                if at < challenges {
                    exercised += 1;
                    assert_eq!(
                        failure,
                        Some(ServerFailure::Cancelled),
                        "{mechanism} initial={initial} at={at}"
                    );
                }
            }
        }
        assert!(exercised > 0, "{mechanism} never had a challenge to cancel");
    }
}

/// Runs a successful exchange but answers the `at`-th challenge with a raw `*`; returns the
/// failure if the cancel was sent, and how many challenges the exchange had.
fn drive_cancel(
    mechanism: Mechanism,
    initial: bool,
    at: usize,
    challenges: &mut usize,
) -> Option<ServerFailure> {
    drive_raw(mechanism, initial, at, b"*", challenges)
}

/// Like [`drive_cancel`] with any raw line in place of the `at`-th response.
fn drive_raw(
    mechanism: Mechanism,
    initial: bool,
    at: usize,
    raw: &[u8],
    challenges: &mut usize,
) -> Option<ServerFailure> {
    let directory = Directory::new();
    let mut client = ClientExchange::new(
        mechanism,
        &good_credentials(mechanism),
        "fyko+d2lbbFgONRv9qkxdawL",
        &client_options(),
    )
    .expect("client");
    let ir = if initial {
        client
            .initial_response()
            .map(|ir| encode_initial_response(&ir))
    } else {
        None
    };
    let (mut server, mut step) = ServerExchange::start(
        mechanism,
        ir.as_deref(),
        &ServerOptions::default(),
        &context(),
    );
    let mut result = None;
    *challenges = 0;
    loop {
        step = match step {
            ServerStep::Challenge(challenge) => {
                let n = *challenges;
                *challenges += 1;
                let response = client.respond(&encode(&challenge)).expect("response");
                if n == at {
                    let step = server.respond(raw);
                    if let ServerStep::Failure(failure) = &step {
                        result = Some(failure.clone());
                    }
                    step
                } else {
                    server.respond(encode(&response).as_bytes())
                }
            }
            ServerStep::NeedSecret { username, .. } => {
                server.provide_secret(directory.secret(&username))
            }
            ServerStep::Verify(claim) => server.verdict(directory.check(&claim)),
            ServerStep::Success(_) | ServerStep::Failure(_) => return result,
        };
    }
}

/// Bad base64 in any response (S-4954-BAD-BASE64), and in the initial response.
#[test]
fn bad_base64_anywhere_fails_with_bad_base64() {
    for mechanism in Mechanism::ALL {
        for initial in [true, false] {
            for (raw, error) in [
                (
                    &b"dGlt IA=="[..],
                    Base64Error::InvalidCharacter {
                        offset: 4,
                        byte: b' ',
                    },
                ),
                (b"=AAA", Base64Error::MisplacedPadding { offset: 0 }),
                (
                    b"dGlt\r\nIA==",
                    Base64Error::InvalidCharacter {
                        offset: 4,
                        byte: b'\r',
                    },
                ),
                (b"dGl", Base64Error::BadLength(3)),
                (b"=", Base64Error::BadLength(1)),
            ] {
                for at in 0..4 {
                    let mut challenges = 0;
                    let failure = drive_raw(mechanism, initial, at, raw, &mut challenges);
                    if at < challenges {
                        assert_eq!(
                            failure,
                            Some(ServerFailure::BadBase64(error)),
                            "{mechanism} initial={initial} at={at}"
                        );
                    }
                }
            }
        }
        if mechanism.is_client_first() {
            let (_, step) = ServerExchange::start(
                mechanism,
                Some("AHRpbQB0YW5z dGFhZnRhbnN0YWFm"),
                &ServerOptions::default(),
                &context(),
            );
            assert_eq!(
                step,
                ServerStep::Failure(ServerFailure::BadBase64(Base64Error::InvalidCharacter {
                    offset: 12,
                    byte: b' '
                })),
                "{mechanism}"
            );
        }
    }
}

/// A client that cannot decode a challenge cancels (C-4954-CANCEL-ON-BAD-CHALLENGE), and the
/// server fails with Cancelled.
#[test]
fn a_client_that_cannot_decode_a_challenge_cancels() {
    for mechanism in [Mechanism::Login, Mechanism::CramMd5, Mechanism::ScramSha256] {
        let mut client = ClientExchange::new(
            mechanism,
            &good_credentials(mechanism),
            "nonce",
            &ClientOptions::default(),
        )
        .expect("client");
        let _ = client.initial_response();
        assert!(
            matches!(
                client.respond("not*base64!"),
                Err(ClientError::BadChallenge(_))
            ),
            "{mechanism}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SCRAM attacks and checks (S-5802-SERVER, C-5802-*)
// ---------------------------------------------------------------------------------------------

fn scram_run(mechanism: Mechanism, options: &ServerOptions, tamper: &Tamper<'_>) -> Run {
    run_with(
        mechanism,
        &good_credentials(mechanism),
        true,
        options,
        &Directory::new(),
        tamper,
    )
}

/// Replaces `from` with `to` in the decoded message.
fn replace(message: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(message)
        .expect("utf-8")
        .replacen(from, to, 1)
        .into_bytes()
}

#[test]
fn scram_wrong_proof_is_refused() {
    for mechanism in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        // Flip one bit of the first octet of the proof.
        // Responses are counted after the initial response: 0 is the client-final message.
        let flip = |n: usize, r: Vec<u8>| {
            if n == 0 {
                let text = String::from_utf8(r).expect("utf-8");
                let (head, proof) = text.rsplit_once(",p=").expect("proof");
                let mut proof = decode(proof.as_bytes()).expect("base64");
                proof[0] ^= 1;
                format!("{head},p={}", encode(&proof)).into_bytes()
            } else {
                r
            }
        };
        let tamper = Tamper {
            challenge: &|_, c| c,
            response: &flip,
        };
        let run = scram_run(mechanism, &ServerOptions::default(), &tamper);
        assert_eq!(
            run.outcome,
            Outcome::Failed(ServerFailure::CredentialsInvalid),
            "{mechanism}"
        );
        // With the optional server-final `e=` message, the client learns why and cancels (the
        // RFC 4954 answer to a challenge it will not go on with), so the server ends with
        // Cancelled; acknowledging with an empty line instead is tested below.
        let options = ServerOptions {
            scram_error_challenge: true,
            ..ServerOptions::default()
        };
        let run = scram_run(mechanism, &options, &tamper);
        assert_eq!(
            run.client_error,
            Some(ClientError::ServerError("invalid-proof".into()))
        );
        assert!(run
            .wire
            .contains(&format!("S: 334 {}", b64(b"e=invalid-proof"))));
        assert_eq!(run.outcome, Outcome::Failed(ServerFailure::Cancelled));
    }
}

#[test]
fn scram_error_challenge_acknowledged_with_an_empty_line_reports_the_reason() {
    let options = ServerOptions {
        scram_error_challenge: true,
        ..ServerOptions::default()
    };
    let mut server_nonce = String::new();
    let (mut server, step) = ServerExchange::start(
        Mechanism::ScramSha256,
        Some(&b64(b"n,,n=tim,r=abc")),
        &options,
        &context(),
    );
    assert!(matches!(step, ServerStep::NeedSecret { .. }));
    if let ServerStep::Challenge(first) = server.provide_secret(Directory::new().secret("tim")) {
        server_nonce = String::from_utf8(first).expect("utf-8");
    }
    let nonce = server_nonce
        .split(',')
        .next()
        .and_then(|r| r.strip_prefix("r="))
        .expect("nonce");
    let forged = format!("c=biws,r={nonce},p={}", b64(&[0u8; 32]));
    assert_eq!(
        server.respond(b64(forged.as_bytes()).as_bytes()),
        ServerStep::Challenge(b"e=invalid-proof".to_vec())
    );
    assert_eq!(
        server.respond(b""),
        ServerStep::Failure(ServerFailure::CredentialsInvalid)
    );
}

#[test]
fn scram_nonce_tampering_is_caught_by_both_sides() {
    for mechanism in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        // The server-first nonce does not start with the client's: the client cancels.
        let tamper = Tamper {
            challenge: &|n, c| {
                if n == 0 {
                    replace(c, "r=fyko", "r=FYKO")
                } else {
                    c
                }
            },
            response: &|_, r| r,
        };
        let run = scram_run(mechanism, &ServerOptions::default(), &tamper);
        assert_eq!(
            run.client_error,
            Some(ClientError::NonceMismatch),
            "{mechanism}"
        );
        assert_eq!(run.outcome, Outcome::Failed(ServerFailure::Cancelled));

        // The client-final nonce is not the server-first one: the server refuses.
        let tamper = Tamper {
            challenge: &|_, c| c,
            response: &|n, r| if n == 0 { replace(r, "7j", "7k") } else { r },
        };
        let run = scram_run(mechanism, &ServerOptions::default(), &tamper);
        assert_eq!(
            run.outcome,
            Outcome::Failed(ServerFailure::NonceMismatch),
            "{mechanism}: {:#?}",
            run.wire
        );

        // A server that adds nothing to the client's nonce is refused too.
        let tamper = Tamper {
            challenge: &|n, c| {
                if n == 0 {
                    replace(c, "3rfcNHYJY1ZVvWVs7j", "")
                } else {
                    c
                }
            },
            response: &|_, r| r,
        };
        let run = scram_run(mechanism, &ServerOptions::default(), &tamper);
        assert!(matches!(run.client_error, Some(ClientError::Malformed(_))));
    }
}

#[test]
fn scram_client_refuses_a_wrong_server_signature() {
    for mechanism in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
        let tamper = Tamper {
            challenge: &|n, c| {
                if n == 1 {
                    let text = String::from_utf8(c).expect("utf-8");
                    let mut signature =
                        decode(text.trim_start_matches("v=").as_bytes()).expect("base64");
                    signature[0] ^= 0x80;
                    format!("v={}", encode(&signature)).into_bytes()
                } else {
                    c
                }
            },
            response: &|_, r| r,
        };
        let run = scram_run(mechanism, &ServerOptions::default(), &tamper);
        assert_eq!(
            run.client_error,
            Some(ClientError::ServerSignatureMismatch),
            "{mechanism}"
        );
        // The client sent `*` instead of the empty line: no 235.
        assert_eq!(run.outcome, Outcome::Failed(ServerFailure::Cancelled));
    }
}

#[test]
fn scram_client_refuses_235_before_the_server_signature() {
    // A server that answers the client-final with 235 directly never proved it knows the
    // password: the client must not take the 235 (C-5802-SERVER-SIGNATURE).
    let mut client = ClientExchange::new(
        Mechanism::ScramSha256,
        &good_credentials(Mechanism::ScramSha256),
        "abc",
        &ClientOptions::default(),
    )
    .expect("client");
    let _ = client.initial_response();
    let server_first = format!("r=abcdef,s={},i=4096", b64(b"salt"));
    assert!(client.respond(&b64(server_first.as_bytes())).is_ok());
    assert_eq!(client.finish(), Err(ClientError::ServerNotAuthenticated));
}

#[test]
fn scram_channel_binding_flags() {
    // p= is refused: no -PLUS mechanism is offered.
    for first in [
        "p=tls-unique,,n=tim,r=abc",
        "p=tls-exporter,a=tim,n=tim,r=abc",
    ] {
        let (_, step) = ServerExchange::start(
            Mechanism::ScramSha256,
            Some(&b64(first.as_bytes())),
            &ServerOptions::default(),
            &context(),
        );
        assert_eq!(
            step,
            ServerStep::Failure(ServerFailure::ChannelBindingNotSupported)
        );
    }
    // y is fine (the client could bind, but we do not offer it), and c= must then be "y,,".
    let mut client = ClientExchange::new(
        Mechanism::ScramSha256,
        &good_credentials(Mechanism::ScramSha256),
        "fyko+d2lbbFgONRv9qkxdawL",
        &ClientOptions {
            scram_channel_binding: ChannelBindingFlag::ServerDoesNotSupport,
            ..ClientOptions::default()
        },
    )
    .expect("client");
    let initial = client.initial_response().expect("ir");
    assert!(initial.starts_with(b"y,,n=tim,"));
    let (mut server, step) = ServerExchange::start(
        Mechanism::ScramSha256,
        Some(&b64(&initial)),
        &ServerOptions::default(),
        &context(),
    );
    assert!(matches!(step, ServerStep::NeedSecret { .. }));
    let ServerStep::Challenge(first) = server.provide_secret(Directory::new().secret("tim")) else {
        panic!("server-first")
    };
    let last = client.respond(&b64(&first)).expect("client-final");
    assert!(last.starts_with(format!("c={}", b64(b"y,,")).as_bytes()));
    let ServerStep::Challenge(verifier) = server.respond(b64(&last).as_bytes()) else {
        panic!("server-final")
    };
    assert_eq!(client.respond(&b64(&verifier)), Ok(Vec::new()));

    // A c= that is not the gs2 header of the first message (here "y,," after "n,,") fails.
    let tamper = Tamper {
        challenge: &|_, c| c,
        response: &|n, r| {
            if n == 0 {
                replace(r, "c=biws", "c=eSws")
            } else {
                r
            }
        },
    };
    let run = scram_run(Mechanism::ScramSha1, &ServerOptions::default(), &tamper);
    assert_eq!(
        run.outcome,
        Outcome::Failed(ServerFailure::ChannelBindingMismatch)
    );
}

#[test]
fn scram_usernames_are_escaped_on_the_wire() {
    let credentials = Credentials::password("a,b=c", "p=ss,word");
    let run = run_with(
        Mechanism::ScramSha256,
        &credentials,
        true,
        &ServerOptions::default(),
        &Directory::new(),
        &NO_TAMPERING,
    );
    let ir = run.wire[0].rsplit(' ').next().expect("ir");
    assert!(decode(ir.as_bytes())
        .expect("base64")
        .starts_with(b"n,,n=a=2Cb=3Dc,r="));
    assert_eq!(
        run.outcome,
        Outcome::Authenticated(Identity {
            authzid: None,
            username: Some("a,b=c".into())
        })
    );
    // With an authzid, escaped the same way, and reported in the identity.
    let credentials = Credentials::password("tim", "tanstaaftanstaaf").with_authzid("ad,min");
    let run = run_with(
        Mechanism::ScramSha1,
        &credentials,
        true,
        &ServerOptions::default(),
        &Directory::new(),
        &NO_TAMPERING,
    );
    assert_eq!(
        run.outcome,
        Outcome::Authenticated(Identity {
            authzid: Some("ad,min".into()),
            username: Some("tim".into())
        })
    );
}

#[test]
fn scram_unknown_users_and_unusable_secrets() {
    let run = simulate(
        Mechanism::ScramSha256,
        &Credentials::password("nobody", "x"),
        true,
    );
    assert_eq!(run.outcome, Outcome::Failed(ServerFailure::UnknownUser));

    let start = || {
        let (server, step) = ServerExchange::start(
            Mechanism::ScramSha256,
            Some(&b64(b"n,,n=tim,r=abc")),
            &ServerOptions::default(),
            &context(),
        );
        assert!(matches!(step, ServerStep::NeedSecret { .. }));
        server
    };
    // Keys derived for SHA-1 cannot serve SCRAM-SHA-256.
    let keys = ScramKeys::derive(ScramHash::Sha1, "x", b"salt", 4096).expect("keys");
    assert!(matches!(
        start().provide_secret(Some(UserSecret::Keys(keys))),
        ServerStep::Failure(ServerFailure::UnusableSecret(_))
    ));
    // Fewer iterations than the configured minimum (4096 by default) are not announced.
    let weak = UserSecret::Password {
        password: "x".into(),
        salt: b"salt".to_vec(),
        iterations: 4095,
    };
    assert!(matches!(
        start().provide_secret(Some(weak)),
        ServerStep::Failure(ServerFailure::UnusableSecret(_))
    ));
}

#[test]
fn scram_client_checks_the_iteration_count() {
    // A server configured to announce i=1 (to test clients) meets the client's default floor.
    let options = ServerOptions {
        scram_min_iterations: 1,
        ..ServerOptions::default()
    };
    let mut directory = Directory::new();
    directory.iterations = 1;
    let run = run_with(
        Mechanism::ScramSha256,
        &good_credentials(Mechanism::ScramSha256),
        true,
        &options,
        &directory,
        &NO_TAMPERING,
    );
    assert_eq!(
        run.client_error,
        Some(ClientError::IterationCount {
            count: 1,
            min: 4096,
            max: 1_000_000
        })
    );
    assert_eq!(run.outcome, Outcome::Failed(ServerFailure::Cancelled));
}

#[test]
fn scram_mandatory_extensions_fail_both_ways() {
    // Server-first with m=: the client aborts (C-5802-MANDATORY-EXT).
    let tamper = Tamper {
        challenge: &|n, c| {
            if n == 0 {
                [&b"m=ext,"[..], &c].concat()
            } else {
                c
            }
        },
        response: &|_, r| r,
    };
    let run = scram_run(Mechanism::ScramSha1, &ServerOptions::default(), &tamper);
    assert_eq!(run.client_error, Some(ClientError::MandatoryExtension));
    // Client-first with m=: the server fails.
    let (_, step) = ServerExchange::start(
        Mechanism::ScramSha1,
        Some(&b64(b"n,,m=ext,n=tim,r=abc")),
        &ServerOptions::default(),
        &context(),
    );
    assert_eq!(step, ServerStep::Failure(ServerFailure::MandatoryExtension));
    // Server-final e=: the client reports the server's reason.
    let tamper = Tamper {
        challenge: &|n, c| if n == 1 { b"e=other-error".to_vec() } else { c },
        response: &|_, r| r,
    };
    let run = scram_run(Mechanism::ScramSha1, &ServerOptions::default(), &tamper);
    assert_eq!(
        run.client_error,
        Some(ClientError::ServerError("other-error".into()))
    );
}

#[test]
fn scram_needs_an_empty_line_after_the_server_final_message() {
    let tamper = Tamper {
        challenge: &|_, c| c,
        response: &|n, r| if n == 1 { b"thanks".to_vec() } else { r },
    };
    let run = scram_run(Mechanism::ScramSha256, &ServerOptions::default(), &tamper);
    assert!(
        matches!(
            run.outcome,
            Outcome::Failed(ServerFailure::Malformed { .. })
        ),
        "{:?}",
        run.outcome
    );
}

// ---------------------------------------------------------------------------------------------
// Initial responses on server-first mechanisms (S-4954-IR-SERVER-FIRST)
// ---------------------------------------------------------------------------------------------

#[test]
fn login_initial_response_is_refused_by_default_and_accepted_as_the_user_name_on_request() {
    let (_, step) = ServerExchange::start(
        Mechanism::Login,
        Some("dGlt"),
        &ServerOptions::default(),
        &context(),
    );
    assert_eq!(
        step,
        ServerStep::Failure(ServerFailure::InitialResponseNotAllowed(Mechanism::Login))
    );

    let options = ServerOptions {
        login_initial_response: LoginInitialResponse::AcceptAsUsername,
        ..ServerOptions::default()
    };
    let (mut server, step) =
        ServerExchange::start(Mechanism::Login, Some("dGlt"), &options, &context());
    assert_eq!(step, ServerStep::Challenge(b"Password:".to_vec()));
    let ServerStep::Verify(Claim::Password(claim)) = server.respond(b"dGFuc3RhYWZ0YW5zdGFhZg==")
    else {
        panic!("verify")
    };
    assert_eq!(claim.username, "tim");
    assert!(claim.password_matches("tanstaaftanstaaf"));
    assert_eq!(server.verdict(true), ServerStep::Success(tim()));
}

#[test]
fn cram_md5_initial_response_is_refused() {
    for ir in ["dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", "="] {
        let (_, step) = ServerExchange::start(
            Mechanism::CramMd5,
            Some(ir),
            &ServerOptions::default(),
            &context(),
        );
        assert_eq!(
            step,
            ServerStep::Failure(ServerFailure::InitialResponseNotAllowed(Mechanism::CramMd5))
        );
    }
}

#[test]
fn an_equals_sign_is_an_empty_initial_response() {
    // `AUTH PLAIN =`: present but empty (S-4954-EQUALS-IR), so PLAIN finds no message.
    let (_, step) = ServerExchange::start(
        Mechanism::Plain,
        Some("="),
        &ServerOptions::default(),
        &context(),
    );
    assert!(
        matches!(
            step,
            ServerStep::Failure(ServerFailure::Malformed {
                mechanism: Mechanism::Plain,
                ..
            })
        ),
        "{step:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Lines a client might send: garbage, base64 of garbage, and base64 of near-valid messages.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let prefixes = prop::sample::select(vec![
        &b""[..],
        b"\0tim\0",
        b"tim ",
        b"user=a\x01auth=Bearer ",
        b"n,a=x,\x01auth=Bearer ",
        b"n,,n=tim,r=",
        b"y,,n=a=2C,r=",
        b"p=x,,n=tim,r=",
        b"c=biws,r=",
        b"c=eSws,r=abc,p=",
        b"\x01",
        b"m=x,",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"*".to_vec()),
        Just(Vec::new()),
        (prefixes, prop::collection::vec(any::<u8>(), 0..48))
            .prop_map(|(prefix, tail)| encode(&[prefix, &tail[..]].concat()).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No sequence of client lines, secrets or verdicts panics a server exchange, and every
    /// exchange ends (or keeps asking) with each call answered by a step.
    #[test]
    fn no_input_panics_a_server_exchange(
        mechanism in prop::sample::select(Mechanism::ALL.to_vec()),
        initial in prop::option::of(line()),
        lines in prop::collection::vec(line(), 0..6),
        verdicts in prop::collection::vec(any::<bool>(), 6),
        known_user in any::<bool>(),
        error_challenge in any::<bool>(),
        accept_login_ir in any::<bool>(),
    ) {
        let options = ServerOptions {
            scram_min_iterations: 1,
            scram_error_challenge: error_challenge,
            login_initial_response: if accept_login_ir {
                LoginInitialResponse::AcceptAsUsername
            } else {
                LoginInitialResponse::Refuse
            },
            ..ServerOptions::default()
        };
        let initial = initial.map(|l| String::from_utf8_lossy(&l).into_owned());
        let (mut server, mut step) =
            ServerExchange::start(mechanism, initial.as_deref(), &options, &context());
        let mut lines = lines.into_iter();
        let mut verdicts = verdicts.into_iter().cycle();
        for _ in 0..12 {
            step = match step {
                ServerStep::Challenge(_) => match lines.next() {
                    Some(line) => server.respond(&line),
                    None => break,
                },
                ServerStep::NeedSecret { .. } => server.provide_secret(known_user.then(|| {
                    UserSecret::Password {
                        password: "pencil".into(),
                        salt: b"salt".to_vec(),
                        iterations: 1,
                    }
                })),
                ServerStep::Verify(_) => server.verdict(verdicts.next().unwrap_or(false)),
                ServerStep::Success(_) | ServerStep::Failure(_) => {
                    prop_assert!(server.is_finished());
                    prop_assert!(matches!(
                        server.respond(b""),
                        ServerStep::Failure(ServerFailure::UnexpectedCall(_))
                    ));
                    break;
                }
            };
        }
    }

    /// No challenge panics a client exchange.
    #[test]
    fn no_challenge_panics_a_client_exchange(
        mechanism in prop::sample::select(Mechanism::ALL.to_vec()),
        send_initial in any::<bool>(),
        challenges in prop::collection::vec(
            prop_oneof![
                "[ -~]{0,40}",
                line().prop_map(|l| String::from_utf8_lossy(&l).into_owned()),
                prop::collection::vec(any::<u8>(), 0..64).prop_map(|c| encode(&c)),
                "[!-+--~]{0,12}".prop_map(|n| encode(
                    format!("r=fyko+d2lbbFgONRv9qkxdawL{n},s=c2FsdA==,i=1").as_bytes()
                )),
            ],
            0..5,
        ),
    ) {
        let options = ClientOptions { scram_min_iterations: 1, ..client_options() };
        let mut client = ClientExchange::new(
            mechanism,
            &good_credentials(mechanism),
            "fyko+d2lbbFgONRv9qkxdawL",
            &options,
        ).expect("client");
        if send_initial {
            let _ = client.initial_response();
        }
        for challenge in challenges {
            let _ = client.respond(&challenge);
        }
        let _ = client.finish();
    }

    /// PLAIN carries any identities and password that RFC 4616 allows, unchanged.
    #[test]
    fn plain_round_trips_any_valid_credentials(
        authzid in prop::option::of("[^\0]{1,20}"),
        username in "[^\0]{1,20}",
        password in "[^\0]{1,20}",
    ) {
        let mut credentials = Credentials::password(username.clone(), password.clone());
        credentials.authzid = authzid.clone();
        let mut client = ClientExchange::new(
            Mechanism::Plain, &credentials, "unused", &ClientOptions::default(),
        ).expect("client");
        let initial = encode_initial_response(&client.initial_response().expect("ir"));
        let (_, step) = ServerExchange::start(
            Mechanism::Plain, Some(&initial), &ServerOptions::default(), &context(),
        );
        let ServerStep::Verify(Claim::Password(claim)) = step else {
            return Err(TestCaseError::fail(format!("{step:?}")));
        };
        prop_assert_eq!(claim.authzid, authzid);
        prop_assert_eq!(claim.username, username);
        prop_assert_eq!(claim.password, password.into_bytes());
    }

    /// Strict base64 accepts exactly the canonical encodings: decoding an encoding gives the
    /// octets back, and whatever decodes re-encodes to the same text.
    #[test]
    fn strict_base64_accepts_only_canonical_text(
        data in prop::collection::vec(any::<u8>(), 0..64),
        text in "[A-Za-z0-9+/= \r\n*-]{0,16}",
    ) {
        prop_assert_eq!(decode(encode(&data).as_bytes()), Ok(data));
        if let Ok(octets) = decode(text.as_bytes()) {
            prop_assert_eq!(encode(&octets), text);
        }
    }
}
