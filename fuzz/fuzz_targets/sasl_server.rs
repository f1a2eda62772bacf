//! The server side of SASL (`smtp_protocol::sasl`): `ServerExchange` for every mechanism,
//! started with any initial response and fed any response lines, with any secret and verdict;
//! and the strict base64 and response decoders on any text.
//!
//! Proves: no panic; the exchange ends (`Success` or `Failure`) or asks for the next line,
//! and once it has ended every further call is refused, not run; strict base64 is canonical:
//! whatever decodes encodes back to the very same text.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtp_protocol::sasl::{
    decode, decode_initial_response, decode_response, encode, encode_initial_response, Claim,
    LoginInitialResponse, LoginPrompts, Mechanism, ScramHash, ScramKeys, ServerContext,
    ServerExchange, ServerFailure, ServerOptions, ServerStep, UserSecret,
};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    mechanism: u8,
    initial_response: Option<&'a str>,
    draft_prompts: bool,
    login_initial_response_as_username: bool,
    scram_error_challenge: bool,
    /// 0: unknown user; 1: keys derived before; else a password with this many iterations.
    secret: u8,
    /// Accept the claim whatever it says, instead of checking it against "pencil".
    accept_any: bool,
    lines: Vec<&'a [u8]>,
}

const PASSWORD: &str = "pencil";

/// SCRAM keys for [`PASSWORD`], derived once (4096 PBKDF2 iterations per exchange would
/// slow the fuzzer down a hundredfold).
fn keys(hash: ScramHash) -> ScramKeys {
    static KEYS: OnceLock<[ScramKeys; 2]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        [ScramHash::Sha1, ScramHash::Sha256]
            .map(|hash| ScramKeys::derive(hash, PASSWORD, b"salt", 4096).expect("keys derive"))
    });
    keys.iter()
        .find(|k| k.hash() == hash)
        .cloned()
        .expect("both hashes")
}

fn check_base64(text: &[u8]) {
    if let Ok(data) = decode(text) {
        assert_eq!(encode(&data).as_bytes(), text, "base64 is not canonical");
    }
    let _ = decode_response(text);
    if let Ok(text) = std::str::from_utf8(text) {
        if let Ok(data) = decode_initial_response(text) {
            assert_eq!(encode_initial_response(&data), text);
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let mechanism = Mechanism::ALL[usize::from(input.mechanism) % Mechanism::ALL.len()];
    let options = ServerOptions {
        login_prompts: if input.draft_prompts {
            LoginPrompts::Draft
        } else {
            LoginPrompts::Interoperable
        },
        login_initial_response: if input.login_initial_response_as_username {
            LoginInitialResponse::AcceptAsUsername
        } else {
            LoginInitialResponse::Refuse
        },
        scram_min_iterations: 1,
        scram_error_challenge: input.scram_error_challenge,
        ..ServerOptions::default()
    };
    let context =
        ServerContext::new("mx.example", "3rfcNHYJY1ZVvWVs7j", 697170952).expect("a valid nonce");
    if let Some(text) = input.initial_response {
        check_base64(text.as_bytes());
    }
    let (mut exchange, mut step) =
        ServerExchange::start(mechanism, input.initial_response, &options, &context);
    let mut lines = input.lines.into_iter();
    loop {
        step = match step {
            ServerStep::Challenge(_) => {
                assert!(!exchange.is_finished());
                let Some(line) = lines.next() else { break };
                check_base64(line);
                exchange.respond(line)
            }
            ServerStep::NeedSecret { .. } => {
                let secret = match (input.secret, ScramHash::of(mechanism)) {
                    (0, _) | (_, None) => None,
                    (1, Some(hash)) => Some(UserSecret::Keys(keys(hash))),
                    (n, Some(_)) => Some(UserSecret::Password {
                        password: PASSWORD.to_owned(),
                        salt: b"salt".to_vec(),
                        iterations: u32::from(n % 16),
                    }),
                };
                exchange.provide_secret(secret)
            }
            ServerStep::Verify(claim) => {
                let _ = claim.username();
                let holds = match &claim {
                    Claim::Password(claim) => claim.password_matches(PASSWORD),
                    Claim::CramMd5(claim) => claim.verify(PASSWORD),
                    Claim::Bearer(claim) => claim.token_matches(PASSWORD),
                };
                exchange.verdict(holds || input.accept_any)
            }
            ServerStep::Success(_) | ServerStep::Failure(_) => {
                assert!(exchange.is_finished());
                // Whatever comes after the end is refused, not run.
                let again = exchange.respond(b"AAAA");
                assert!(
                    matches!(again, ServerStep::Failure(ServerFailure::UnexpectedCall(_))),
                    "{again:?}"
                );
                break;
            }
        };
    }
});
