//! The heads both benchmarks parse.

#[allow(dead_code)]
pub fn minimal_get() -> Vec<u8> {
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()
}

#[allow(dead_code)]
pub fn browser_get() -> Vec<u8> {
    let head = concat!(
        "GET /assets/app/main.8f3a2c1d.js?v=20240611&lang=en-US HTTP/1.1\r\n",
        "Host: www.example-shop.com\r\n",
        "Connection: keep-alive\r\n",
        "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n",
        "sec-ch-ua-mobile: ?0\r\n",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n",
        "sec-ch-ua-platform: \"Linux\"\r\n",
        "Accept: */*\r\n",
        "Sec-Fetch-Site: same-origin\r\n",
        "Sec-Fetch-Mode: no-cors\r\n",
        "Referer: https://www.example-shop.com/products/garden/tools?page=2&sort=price-asc\r\n",
        "Accept-Encoding: gzip, deflate, br, zstd\r\n",
        "Cookie: session=5f2b7c9e1a4d4e0f8b3c6a9d2e7f1b0c; theme=dark; consent=1; _ga=GA1.2.1234567890.1718100000; _gid=GA1.2.987654321.1718100000\r\n",
        "\r\n",
    );
    head.as_bytes().to_vec()
}

#[allow(dead_code)]
pub fn hundred_fields() -> Vec<u8> {
    let mut head = b"GET /api/v1/items?limit=50 HTTP/1.1\r\nHost: api.example.com\r\n".to_vec();
    for i in 1..100 {
        head.extend_from_slice(
            format!("X-Custom-Field-{i:03}: value-{i:03}-abcdefgh\r\n").as_bytes(),
        );
    }
    head.extend_from_slice(b"\r\n");
    head
}

#[allow(dead_code)]
pub fn response_head() -> Vec<u8> {
    concat!(
        "HTTP/1.1 200 OK\r\n",
        "Date: Tue, 11 Jun 2024 10:15:42 GMT\r\n",
        "Content-Type: application/json; charset=utf-8\r\n",
        "Content-Length: 0\r\n",
        "Connection: keep-alive\r\n",
        "Cache-Control: no-cache\r\n",
        "ETag: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"\r\n",
        "\r\n",
    )
    .as_bytes()
    .to_vec()
}
