//! Keystone's answer to a token validation (`GET /v3/auth/tokens`).

/// Any body either is refused with a message or gives an identity whose
/// policy credentials can be built; nothing panics.
pub fn keystone_token(body: &[u8]) {
    match glint_api::auth::parse_token(body) {
        Ok(identity) => {
            let credentials = identity.credentials();
            assert_eq!(
                credentials.user_id.as_deref(),
                Some(identity.user_id.as_str())
            );
        }
        Err(message) => assert!(!message.is_empty()),
    }
}
