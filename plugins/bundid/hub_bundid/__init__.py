"""hub plugin: BundID login (SAML 2.0 Web Browser SSO with the akdb extension) and a simulator."""
