"""A small Flask app: JSON, form POST, request.get_data with chunked bodies, streaming."""

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "hello from flask"


@app.route("/json/<name>")
def js(name):
    return jsonify(name=name, args=request.args.to_dict())


@app.route("/post", methods=["POST"])
def post():
    data = request.get_data()
    return jsonify(length=len(data), form=request.form.to_dict(), head=data[:20].decode("latin-1"))


@app.route("/stream")
def stream():
    return Response((f"line {i}\n" for i in range(3)), mimetype="text/plain")
