"""The seed's REST client flow against `tfprobe serve`.

Like the seed article's client it base64-encodes a JPEG, posts the row-format
body '{"instances" : [{"b64": "..."}]}' as a plain string with
requests.post(url, data=...) (so no Content-Type header is sent), warms up,
times ten requests and prints the predicted class. The image is read from a
local file instead of being downloaded.

    python rest_client.py http://localhost:8501/v1/models/resnet:predict image.jpg
"""

import base64
import sys

import requests


def run(server_url, image_path):
    with open(image_path, "rb") as image:
        encoded = base64.b64encode(image.read()).decode("utf-8")
    body = '{"instances" : [{"b64": "%s"}]}' % encoded

    for _ in range(3):
        requests.post(server_url, data=body).raise_for_status()

    rounds = 10
    seconds = 0.0
    prediction = None
    for _ in range(rounds):
        response = requests.post(server_url, data=body)
        response.raise_for_status()
        seconds += response.elapsed.total_seconds()
        prediction = response.json()["predictions"][0]

    print("Prediction class: {}, avg latency: {} ms".format(prediction["classes"], seconds * 1000 / rounds))


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
