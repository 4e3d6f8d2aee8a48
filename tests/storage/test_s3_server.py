"""The test object store (harness.s3): a real S3 API with keys, public reads of objects by a
plain GET, refused anonymous writes, and an outage that stop() and start() simulate."""

import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from harness.s3 import S3Server

pytestmark = pytest.mark.slow

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def anonymous(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with _opener.open(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_put_get_list_delete_with_the_keys(s3):
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="posts/1/a.webp", Body=b"a", ContentType="image/webp")
    client.put_object(Bucket=s3.bucket, Key="posts/2/b.webp", Body=b"bb")
    client.put_object(Bucket=s3.bucket, Key="avatars/c.png", Body=b"ccc")

    got = client.get_object(Bucket=s3.bucket, Key="posts/1/a.webp")
    assert got["Body"].read() == b"a"
    assert got["ContentType"] == "image/webp"
    assert s3.keys() == ["avatars/c.png", "posts/1/a.webp", "posts/2/b.webp"]
    assert s3.keys("posts/") == ["posts/1/a.webp", "posts/2/b.webp"]

    client.delete_object(Bucket=s3.bucket, Key="posts/1/a.webp")
    assert s3.keys() == ["avatars/c.png", "posts/2/b.webp"]
    s3.clear()
    assert s3.keys() == []


def test_keys_and_clear_go_past_one_page(s3):
    client = s3.client()
    names = [f"many/{i:04d}.txt" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=s3.bucket, Key=key, Body=b"x"), names))
    assert s3.keys("many/") == names
    s3.clear()
    assert s3.keys() == []


def test_wrong_keys_are_refused(s3):
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3.access_key,
        aws_secret_access_key="not-the-secret",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=s3.bucket, Key="forged.txt", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3.keys() == []


def test_objects_are_public_by_plain_get_and_nothing_else_is(s3):
    s3.client().put_object(Bucket=s3.bucket, Key="posts/1/a.webp", Body=b"image bytes")

    assert anonymous("GET", s3.public_url + "posts/1/a.webp") == (200, b"image bytes")
    assert anonymous("GET", s3.public_url + "posts/1/missing.webp")[0] == 404
    assert anonymous("PUT", s3.public_url + "posts/1/x.webp", b"forged")[0] == 403
    assert anonymous("PUT", s3.public_url + "posts/1/a.webp", b"forged")[0] == 403
    assert anonymous("DELETE", s3.public_url + "posts/1/a.webp")[0] == 403
    assert anonymous("GET", s3.public_url + "?list-type=2")[0] == 403
    assert s3.keys() == ["posts/1/a.webp"]
    assert anonymous("GET", s3.public_url + "posts/1/a.webp") == (200, b"image bytes")


def test_env_points_at_the_server(s3):
    env = s3.env()
    assert env == {
        "S3_BUCKET": "kubeblog-media",
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_REGION": "us-east-1",
        "S3_ADDRESSING_STYLE": "path",
        "S3_ACCESS_KEY_ID": s3.access_key,
        "S3_SECRET_ACCESS_KEY": s3.secret_key,
        "MEDIA_URL": f"{s3.endpoint_url}/kubeblog-media/",
    }
    assert s3.endpoint_url.startswith("http://127.0.0.1:")


def test_it_listens_on_loopback_only(s3):
    # master, volume server, filer, S3 gateway, admin server: HTTP and gRPC, each on its own
    # free port, and nothing else (no WebDAV, Iceberg, Lance or debug server).
    assert s3.listening() == s3.addresses()
    assert len(s3.addresses()) == 10
    assert f"127.0.0.1:{s3.port}" in s3.addresses()


def test_stop_is_an_outage_and_start_brings_the_data_back():
    with S3Server() as s3:
        client = s3.client()
        client.put_object(Bucket=s3.bucket, Key="kept.txt", Body=b"still here")

        s3.stop()
        began = time.monotonic()
        with pytest.raises(EndpointConnectionError):
            client.get_object(Bucket=s3.bucket, Key="kept.txt")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", s3.port), timeout=2).close()
        assert time.monotonic() - began < 3

        s3.start()
        assert s3.listening() == s3.addresses()
        assert client.get_object(Bucket=s3.bucket, Key="kept.txt")["Body"].read() == b"still here"
        assert anonymous("GET", s3.public_url + "kept.txt") == (200, b"still here")
    assert not s3.root.exists()


def test_two_servers_share_nothing(s3):
    with S3Server() as other:
        assert not set(other.listening()) & set(s3.listening())
        other.client().put_object(Bucket=other.bucket, Key="mine.txt", Body=b"x")
        assert s3.keys() == []
        assert other.access_key != s3.access_key
