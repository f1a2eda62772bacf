//! The client side of SASL (`smtp_protocol::sasl::ClientExchange`), for every mechanism
//! with any credentials: fed any challenges (as base64 text or decoded), and also run against
//! the server side as an honest client.
//!
//! Proves: no panic on any challenge, and a failed exchange stays failed; an honest client
//! whose credentials the client side accepts is authenticated by the server side with the
//! right password or token (and SCRAM's server signature is accepted by the client).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtp_protocol::sasl::{
    encode, encode_initial_response, Claim, ClientExchange, ClientOptions, Credentials, Mechanism,
    ServerContext, ServerExchange, ServerFailure, ServerOptions, ServerStep, UserSecret,
};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    mechanism: u8,
    bearer: bool,
    username: String,
    secret: String,
    authzid: Option<String>,
    nonce: &'a str,
    oauth_host: Option<String>,
    oauth_port: Option<u16>,
    /// Challenges: base64 text when true, decoded octets when false.
    challenges: Vec<(bool, &'a [u8])>,
}

fn credentials(input: &Input<'_>) -> Credentials {
    let credentials = if input.bearer {
        Credentials::bearer(&input.username, &input.secret)
    } else {
        Credentials::password(&input.username, &input.secret)
    };
    match &input.authzid {
        Some(authzid) => credentials.with_authzid(authzid),
        None => credentials,
    }
}

fn options(input: &Input<'_>) -> ClientOptions {
    ClientOptions {
        oauth_host: input.oauth_host.clone(),
        oauth_port: input.oauth_port,
        // Few iterations: a server (here, the fuzzer) chooses the count.
        scram_min_iterations: 1,
        scram_max_iterations: 64,
        ..ClientOptions::default()
    }
}

/// Any challenges: no panic, and once refused, refused for good.
fn arbitrary_challenges(input: &Input<'_>, mechanism: Mechanism) {
    let Ok(mut client) =
        ClientExchange::new(mechanism, &credentials(input), input.nonce, &options(input))
    else {
        return;
    };
    let _ = client.initial_response();
    let mut failed = false;
    for (text, challenge) in &input.challenges {
        let result = if *text {
            client.respond(&String::from_utf8_lossy(challenge))
        } else {
            client.respond_decoded(challenge)
        };
        assert!(!(failed && result.is_ok()), "a failed exchange went on");
        failed |= result.is_err();
    }
    let _ = client.finish();
    let _ = client.server_error();
}

/// An honest client against the server side, which knows its password or token.
fn honest_exchange(input: &Input<'_>, mechanism: Mechanism) {
    let credentials = credentials(input);
    let Ok(mut client) =
        ClientExchange::new(mechanism, &credentials, "cLiEnTnOnCe", &options(input))
    else {
        return;
    };
    let server_options = ServerOptions {
        scram_min_iterations: 1,
        ..ServerOptions::default()
    };
    let context = ServerContext::new("mx.example", "sErVeRnOnCe", 1).expect("a valid nonce");
    let initial = client
        .initial_response()
        .map(|ir| encode_initial_response(&ir));
    let (mut server, mut step) =
        ServerExchange::start(mechanism, initial.as_deref(), &server_options, &context);
    // The client may refuse what the server sends (a password SASLprep refuses): it cancels.
    let mut cancelled = false;
    for _ in 0..8 {
        step = match step {
            ServerStep::Challenge(challenge) => match client.respond(&encode(&challenge)) {
                Ok(response) => server.respond(encode(&response).as_bytes()),
                Err(_) => {
                    cancelled = true;
                    server.respond(b"*")
                }
            },
            ServerStep::NeedSecret { .. } => server.provide_secret(Some(UserSecret::Password {
                password: input.secret.clone(),
                salt: b"salt".to_vec(),
                iterations: 2,
            })),
            // Open (see the fuzzing note): PLAIN sends any password, but the server prepares
            // it with SASLprep and fails one that SASLprep refuses ("\x7f", unassigned code
            // points), so such a client is never accepted. Only printable ASCII is judged.
            ServerStep::Verify(Claim::Password(_))
                if mechanism == Mechanism::Plain
                    && !input
                        .secret
                        .chars()
                        .all(|c| c.is_ascii_graphic() || c == ' ') =>
            {
                return
            }
            ServerStep::Verify(claim) => {
                let holds = match &claim {
                    Claim::Password(claim) => claim.password_matches(&input.secret),
                    Claim::CramMd5(claim) => claim.verify(&input.secret),
                    Claim::Bearer(claim) => claim.token_matches(&input.secret),
                };
                assert!(
                    holds,
                    "{mechanism}: the honest client's claim fails: {claim:?}"
                );
                server.verdict(true)
            }
            ServerStep::Success(_) => {
                assert!(!cancelled);
                assert_eq!(client.finish(), Ok(()), "{mechanism}");
                return;
            }
            // A password SASLprep refuses cannot be made into SCRAM keys.
            ServerStep::Failure(ServerFailure::UnusableSecret(_)) => return,
            ServerStep::Failure(_) if cancelled => return,
            ServerStep::Failure(failure) => {
                panic!("{mechanism}: the honest client ({credentials:?}) failed: {failure}")
            }
        };
    }
    panic!("{mechanism}: the exchange did not end");
}

fuzz_target!(|input: Input<'_>| {
    let mechanism = Mechanism::ALL[usize::from(input.mechanism) % Mechanism::ALL.len()];
    arbitrary_challenges(&input, mechanism);
    honest_exchange(&input, mechanism);
});
