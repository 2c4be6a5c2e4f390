//! Get Help: the button on every page, the menu of topics opened where the person was,
//! the search, a leaf's and an article's pages ending in Contact a support agent, and
//! articles added or replaced in the data folder without a rebuild (cleaned of scripts).

use axum::http::StatusCode;

use crate::support::TestPortal;

#[tokio::test]
async fn every_page_has_the_get_help_button_and_its_dialog() {
    let t = TestPortal::sqlite().await;
    let mut visitor = t.browser();
    for path in ["/", "/buy", "/signin", "/help"] {
        let page = visitor.get(path).await.ok();
        assert!(page.has("id=\"get-help\""), "{path}: {}", page.text);
        assert!(page.has("id=\"help-dialog\""), "{path}");
    }
    // An error page is plainer, and still leads to Get Help.
    let missing = visitor.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.has("<a href=\"/help\" id=\"get-help\">Get Help</a>"),
        "{}",
        missing.text
    );
    // No icon, and no 404 in the console for it.
    assert_eq!(
        visitor.get("/favicon.ico").await.status,
        StatusCode::NO_CONTENT
    );
    let mut buyer = t.customer("help@office.example", "Help Office").await;
    for path in [
        "/account/subscriptions",
        "/account/orders",
        "/account/teams",
    ] {
        let page = buyer.get(path).await.ok();
        assert!(page.has(">Get Help</a>"), "{path}: {}", page.text);
    }
}

#[tokio::test]
async fn the_menu_opens_at_the_topic_of_the_page_and_search_finds_the_renewal_article() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    let menu = b
        .get("/help/menu?from=%2Faccount%2Fsubscriptions")
        .await
        .ok();
    // The seeds' shape: Post-purchase support > Subscription management > Renewals.
    assert!(
        menu.has("<details open><summary id=\"help-topic-post-purchase\">Post-purchase support"),
        "{}",
        menu.text
    );
    assert!(menu.has(
        "<details open><summary id=\"help-topic-post-purchase-subscription-management\">Subscription management"
    ));
    assert!(menu.has("id=\"help-topic-post-purchase-subscription-management-billing-orders\">Billing &#38; orders</a>"));
    for top in [
        "Purchase",
        "License servers",
        "Named users and sign-in",
        "Tokens",
        "Reports",
    ] {
        assert!(menu.has(&format!(">{top}<")), "{top}");
    }
    assert!(
        menu.has("/support/new?topic=post-purchase%2Fsubscription-management%2Frenewals&#38;from=%2Faccount%2Fsubscriptions"),
        "Contact a support agent carries the page's topic: {}",
        menu.text
    );

    let found = b
        .get("/help/menu?q=renewal&from=%2Faccount%2Fsubscriptions")
        .await
        .ok();
    let first = found.text.find("id=\"help-article-").expect(&found.text);
    assert!(
        found.text[first..].starts_with("id=\"help-article-renew-a-subscription\""),
        "the renewal article first: {}",
        found.text
    );
    let nothing = b.get("/help/menu?q=xylophone").await.ok();
    assert!(nothing.has("id=\"help-no-results\""), "{}", nothing.text);

    let article = b
        .get("/help/articles/renew-a-subscription?from=%2Faccount%2Fsubscriptions")
        .await
        .ok();
    assert!(article.has("<h1 id=\"article-title\">Renew a subscription</h1>"));
    assert!(
        article.has("<strong>Renew now</strong>"),
        "Markdown rendered"
    );
    assert!(article.has("Post-purchase support &#62; Subscription management &#62; Renewals"));
    assert!(article.has("id=\"contact-agent\""));

    let leaf = b
        .get("/help/topics/post-purchase/subscription-management/renewals")
        .await
        .ok();
    assert!(
        leaf.has("id=\"article-renew-a-subscription\""),
        "{}",
        leaf.text
    );
    assert!(leaf.has("id=\"article-turn-off-auto-renew\""));
    assert!(leaf.has("Contact a support agent"));

    assert_eq!(
        b.get("/help/topics/nowhere").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/help/articles/no-such-article").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn articles_in_the_data_folder_add_to_and_replace_the_built_in_ones_at_once() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    let before = b.get("/help/articles/renew-a-subscription").await.ok();
    assert!(before.has("Renew a subscription"));

    let dir = t.portal.config.data_dir.join("help");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("renew-a-subscription.md"),
        "---\ntitle: Renewing with Example Corp\ntopic: post-purchase/subscription-management/renewals\n---\nCall **Example Corp** first. <script>alert(1)</script>\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("vpn-and-license-servers.md"),
        "---\ntitle: License servers behind a VPN\ntopic: license-servers/lan\nkeywords: vpn, firewall\n---\nOpen port 27080 on the VPN.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.md"),
        "---\ntitle: Broken\ntopic: no/such/topic\n---\nText\n",
    )
    .unwrap();

    let replaced = b.get("/help/articles/renew-a-subscription").await.ok();
    assert!(
        replaced.has("Renewing with Example Corp"),
        "{}",
        replaced.text
    );
    assert!(replaced.has("<strong>Example Corp</strong>"));
    assert!(!replaced.has("alert(1)"), "the script is cleaned away");

    let found = b.get("/help/menu?q=vpn").await.ok();
    assert!(
        found.has("id=\"help-article-vpn-and-license-servers\""),
        "{}",
        found.text
    );
    let lan = b.get("/help/topics/license-servers/lan").await.ok();
    assert!(lan.has("Open port 27080 on the VPN."));
    assert!(lan.has("id=\"article-check-the-lan-license-server\""));
    assert_eq!(
        b.get("/help/articles/broken").await.status,
        StatusCode::NOT_FOUND,
        "an article with an unknown topic is left out"
    );
}
