def test_anna_reads_her_sessions_and_a_roster(api, anna, world_a):
    client = api(anna)
    response = client.get("/api/v1/sessions/")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2
    response = client.get(f"/api/v1/sessions/{world_a.session.pk}/attendance/")
    assert response.status_code == 200, response.content
    print(response.json())
    for url in ["me/", "institutions/", "sites/", "rooms/", "participants/", "groups/", "notes/", "enrollments/", "consents/", "attendance/"]:
        r = client.get("/api/v1/" + url)
        assert r.status_code == 200, (url, r.content)
