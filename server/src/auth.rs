//! Optional player authentication with HS256 JSON Web Tokens.
//!
//! With `--jwt-secret`, every player must present a token signed with that secret, either as
//! `?token=` on the WebSocket URL (checked before the upgrade: HTTP 401 when bad) or in
//! `Hello.auth_token` (close 4004 when bad). The token must carry `exp` (not in the past) and
//! `sub`; an `nbf` (not before), when present, must not be in the future; both are checked with
//! [`LEEWAY_SECS`] of clock skew. The player's display name comes from the `name` claim, else
//! from `sub` (cleaned like any name).
//!
//! The secret must be at least [`MIN_SECRET_BYTES`] long: the server refuses to start with an
//! empty or shorter one ([`SecretError`]), since a token signed with the empty key, or with a
//! key short enough to guess, would let anyone in as anyone.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::{Deserialize, Serialize};

/// The shortest `--jwt-secret` accepted, bytes. RFC 7518 §3.2 requires an HS256 key "of the
/// same size as the hash output (for instance, 256 bits for HS256) or larger": a shorter key
/// has less entropy than the MAC it keys, and guessing it offline from one captured token is
/// the whole attack on HS256.
pub const MIN_SECRET_BYTES: usize = 32;

/// Seconds of clock skew allowed between the token issuer and this server, for `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 5;

/// Why a secret cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Empty.
    #[error(
        "--jwt-secret (or TICKWIRE_JWT_SECRET) is empty: tokens signed with an empty key would let \
         anyone in; use a random secret of at least 32 bytes (e.g. `openssl rand -base64 48`), \
         or leave the flag out to run without authentication"
    )]
    Empty,
    /// Shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "--jwt-secret (or TICKWIRE_JWT_SECRET) is {0} bytes long; an HS256 secret needs at least \
         32 bytes (RFC 7518 section 3.2: a key as long as the hash), e.g. `openssl rand -base64 48`"
    )]
    TooShort(usize),
}

/// Whether `secret` may sign tokens: not empty and at least [`MIN_SECRET_BYTES`] long.
pub fn check_secret(secret: &str) -> Result<(), SecretError> {
    match secret.len() {
        0 => Err(SecretError::Empty),
        n if n < MIN_SECRET_BYTES => Err(SecretError::TooShort(n)),
        _ => Ok(()),
    }
}

/// The claims tickwire reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not before, seconds since the Unix epoch (optional; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

impl Claims {
    /// The name to show for this player.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sub)
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No token was presented.
    #[error("a token is required")]
    Missing,
    /// The token's `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// The token's `nbf` is still in the future.
    #[error("the token is not valid yet (its nbf is in the future)")]
    NotYetValid,
    /// Bad signature, malformed token, missing claims, wrong algorithm.
    #[error("the token is invalid")]
    Invalid,
}

impl AuthError {
    /// Label for the auth failure metric.
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::Invalid => "invalid",
        }
    }
}

/// Verifies tokens against the configured secret.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    /// A verifier for HS256 tokens signed with `secret`, if the secret is long enough
    /// ([`check_secret`]).
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        check_secret(secret)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Ok(JwtVerifier {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        })
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: Option<&str>) -> Result<Claims, AuthError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
        decode::<Claims>(token, &self.key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                _ => AuthError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const SECRET: &str = "a secret of thirty-two bytes, ok";
    const OTHER: &str = "another secret of thirty-two byt";

    fn token(secret: &str, exp: u64) -> String {
        signed(
            secret,
            &Claims {
                sub: "acct-1".into(),
                name: Some("Ada".into()),
                exp,
                nbf: None,
            },
        )
    }

    fn signed(secret: &str, claims: &Claims) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn accepts_good_and_refuses_bad_tokens() {
        let v = JwtVerifier::new(SECRET).unwrap();
        assert_eq!(
            v.verify(Some(&token(SECRET, now() + 60)))
                .unwrap()
                .display_name(),
            "Ada"
        );
        assert_eq!(
            v.verify(Some(&token(OTHER, now() + 60))),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            v.verify(Some(&token(SECRET, now() - 60))),
            Err(AuthError::Expired)
        );
        assert_eq!(v.verify(Some("not.a.jwt")), Err(AuthError::Invalid));
        assert_eq!(v.verify(None), Err(AuthError::Missing));
    }

    #[test]
    fn empty_and_short_secrets_are_refused() {
        assert_eq!(check_secret("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            check_secret("s3cret").unwrap_err(),
            SecretError::TooShort(6)
        );
        assert_eq!(
            check_secret(&"x".repeat(31)).unwrap_err(),
            SecretError::TooShort(31)
        );
        assert!(check_secret(&"x".repeat(32)).is_ok());
        assert!(JwtVerifier::new("").is_err());
        let msg = SecretError::TooShort(6).to_string();
        assert!(
            msg.contains("--jwt-secret") && msg.contains("32 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn a_token_not_valid_yet_is_refused_and_one_from_a_moment_ago_admitted() {
        let v = JwtVerifier::new(SECRET).unwrap();
        let claims = |nbf| Claims {
            sub: "acct-1".into(),
            name: None,
            exp: now() + 3 * 86_400,
            nbf: Some(nbf),
        };
        let tomorrow = signed(SECRET, &claims(now() + 86_400));
        assert_eq!(v.verify(Some(&tomorrow)), Err(AuthError::NotYetValid));
        assert_eq!(AuthError::NotYetValid.label(), "not_yet_valid");
        // Within the leeway (an issuer whose clock runs a little ahead), and in the past: fine.
        let skewed = signed(SECRET, &claims(now() + LEEWAY_SECS - 2));
        assert_eq!(v.verify(Some(&skewed)).unwrap().sub, "acct-1");
        let past = signed(SECRET, &claims(now() - 60));
        assert_eq!(v.verify(Some(&past)).unwrap().sub, "acct-1");
    }

    #[test]
    fn a_token_signed_with_the_empty_key_is_refused() {
        let v = JwtVerifier::new(SECRET).unwrap();
        assert_eq!(
            v.verify(Some(&token("", now() + 60))),
            Err(AuthError::Invalid)
        );
    }
}
