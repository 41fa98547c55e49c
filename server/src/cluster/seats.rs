//! Seat tokens: what `POST /match` hands a client, proof that a seat in a room on a node was
//! reserved for it until a deadline. HS256 JWTs (the `jsonwebtoken` crate the server already
//! uses for player tokens) signed with `--cluster-secret`, which every node shares, so the
//! node that takes the seat checks a token another node issued without asking anyone.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a seat token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatClaims {
    /// The room the seat is in.
    pub room: String,
    /// The node that runs it.
    pub node: String,
    /// The reservation's id in the room's seat set (`tw:seats:ROOM`).
    pub seat: String,
    /// Deadline, milliseconds since the Unix epoch.
    pub exp_ms: u64,
    /// Seconds since the Unix epoch (the JWT `exp`, checked by the library too).
    pub exp: u64,
}

/// Why a seat token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    /// Past its deadline.
    #[error("the seat reservation has expired; ask for a new match")]
    Expired,
    /// Not signed with this cluster's key, or not a seat token at all.
    #[error("the seat token is not valid here (forged, damaged, or from another cluster)")]
    Invalid,
}

/// Signs and checks seat tokens.
pub struct SeatSigner {
    enc: EncodingKey,
    dec: DecodingKey,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl SeatSigner {
    /// A signer with `secret` (the cluster's), or a random key (a lone server).
    pub fn new(secret: Option<&str>) -> SeatSigner {
        let key: Vec<u8> = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                use rand::RngCore;
                let mut k = vec![0u8; 32];
                rand::rng().fill_bytes(&mut k);
                k
            }
        };
        SeatSigner {
            enc: EncodingKey::from_secret(&key),
            dec: DecodingKey::from_secret(&key),
        }
    }

    /// A token for seat `seat` in `room` on `node`, good for `ttl`.
    pub fn issue(&self, room: &str, node: &str, seat: &str, ttl: Duration) -> (String, u64) {
        let exp_ms = now_ms() + ttl.as_millis() as u64;
        let claims = SeatClaims {
            room: room.into(),
            node: node.into(),
            seat: seat.into(),
            exp_ms,
            exp: exp_ms.div_ceil(1000),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
            .expect("HS256 signing of plain claims cannot fail");
        (token, exp_ms)
    }

    /// The claims of a token signed by this cluster and not past its deadline.
    pub fn verify(&self, token: &str) -> Result<SeatClaims, SeatError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<SeatClaims>(token, &self.dec, &v)
            .map_err(|_| SeatError::Invalid)?
            .claims;
        if claims.exp_ms <= now_ms() {
            return Err(SeatError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_checks_with_the_same_key_only_and_until_its_deadline() {
        let a = SeatSigner::new(Some("a-cluster-secret-of-32-bytes-or-more!!"));
        let b = SeatSigner::new(Some("another-cluster-secret-of-32-bytes!!!!"));
        let (t, _) = a.issue("n1-4", "n1", "s1", Duration::from_secs(10));
        let c = a.verify(&t).unwrap();
        assert_eq!(
            (c.room.as_str(), c.node.as_str(), c.seat.as_str()),
            ("n1-4", "n1", "s1")
        );
        assert_eq!(b.verify(&t), Err(SeatError::Invalid));
        assert_eq!(a.verify("not.a.token"), Err(SeatError::Invalid));
        let mut forged = t.clone();
        forged.insert(forged.len() / 2, 'x');
        assert_eq!(a.verify(&forged), Err(SeatError::Invalid));
        let (old, _) = a.issue("n1-4", "n1", "s2", Duration::ZERO);
        assert_eq!(a.verify(&old), Err(SeatError::Expired));
    }
}
