from apps.accounts.models import Account


def test_signup_then_token_login_with_fullwidth_colon(shop_a, anon):
    # given a sub-account of shop A
    shop_a.sub("agent1")
    # when it logs in with a full-width colon (SPEC A2)
    response = anon.post(
        "/api/v1/auth/token/",
        {"username": "shop-a：agent1", "password": "correct-horse-battery"},
        format="json",
    )
    # then it gets a token for that account
    assert response.status_code == 200, response.content
    assert response.json()["account"]["username"] == "shop-a:agent1"
    assert Account.objects.filter(username="shop-a:agent1").exists()
