use super::*;

fn saml_flags() -> Flags {
    Flags {
        saml_idp_url: Some("https://idp.example.org/sso".into()),
        saml_idp_cert_fingerprint: Some(
            "43:51:43:A1:B5:FC:8B:B7:0A:3A:A9:B1:0F:66:73:A8:12:34:56:78".into(),
        ),
        ..Flags::default()
    }
}

#[test]
fn without_tls_single_sign_on_is_refused() {
    let problem = validate(&saml_flags(), false).unwrap_err();
    assert!(problem.contains("needs --tls"), "{problem}");
    assert_eq!(validate(&Flags::default(), false), Ok(None));
}

#[test]
fn a_fingerprint_is_sha1_and_written_lower_case_with_colons() {
    assert!(
        normalise_fingerprint("4351 43a1")
            .unwrap_err()
            .contains("SHA-1")
    );
    let colons = "43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8:12:34:56:78";
    assert_eq!(
        normalise_fingerprint(&colons.to_uppercase()).unwrap(),
        colons
    );
    assert_eq!(
        normalise_fingerprint(&colons.replace(':', "")).unwrap(),
        colons
    );
    // GitLab's example is 16 bytes: not SHA-1, refused.
    assert!(normalise_fingerprint("43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8").is_err());
    assert!(
        normalise_fingerprint("435:143:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8:12:34:56:78:9")
            .is_err()
    );
}

#[test]
fn urls_must_be_https_and_values_hold_no_control_character() {
    let mut flags = saml_flags();
    flags.saml_idp_url = Some("http://idp.example.org/sso".into());
    assert!(validate(&flags, true).unwrap_err().contains("https://"));
    let mut flags = saml_flags();
    flags.saml_issuer = Some("gitlab'\ngitlab_rails['x'] = 1".into());
    assert!(
        validate(&flags, true)
            .unwrap_err()
            .contains("control character")
    );
    let flags = Flags {
        oidc_issuer: Some("https://id.example.org".into()),
        ..Flags::default()
    };
    assert!(validate(&flags, true).unwrap_err().contains("together"));
}

#[test]
fn a_ruby_string_keeps_quotes_and_backslashes_as_data() {
    assert_eq!(ruby_string("a'b\\c"), "'a\\'b\\\\c'");
    assert_eq!(ruby_string("#{`id`}"), "'#{`id`}'");
}

#[test]
fn the_settings_hold_the_documented_keys() {
    let sso = validate(&saml_flags(), true).unwrap().unwrap();
    let text = settings(&sso, "https://git.example.org:8443");
    for expected in [
        "gitlab_rails['omniauth_allow_single_sign_on'] = ['saml']",
        "gitlab_rails['omniauth_block_auto_created_users'] = false",
        "assertion_consumer_service_url: 'https://git.example.org:8443/users/auth/saml/callback'",
        "idp_cert_fingerprint: '43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8:12:34:56:78'",
        "idp_sso_target_url: 'https://idp.example.org/sso'",
        "issuer: 'https://git.example.org:8443'",
        "name_identifier_format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
}

#[test]
fn metadata_gives_the_redirect_url_and_needs_a_certificate() {
    let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp">
      <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp/post"/>
        <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/redirect?a=1&amp;b=2"/>
      </md:IDPSSODescriptor></md:EntityDescriptor>"#;
    let problem = parse_metadata(xml).unwrap_err();
    assert!(problem.contains("no signing certificate"), "{problem}");
    assert!(
        parse_metadata("<html/>")
            .unwrap_err()
            .contains("IDPSSODescriptor")
    );
    let found = elements(xml, "SingleSignOnService");
    assert_eq!(found.len(), 2);
    assert_eq!(
        attribute(found[1].0, "Location").as_deref(),
        Some("https://idp/redirect?a=1&b=2")
    );
}
