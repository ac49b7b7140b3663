# The setup both data-plane benchmarks share: the seed's backends and the same routing in
# lockgate, HAProxy and nginx. Source it after common.sh; it expects `$lockgate` (the binary),
# `start NAME CORE COMMAND...` and `wait_for NAME URL`, and sets the backend ports.
#
# Like for like: the peers do what lockgate does on every request, append the client to
# X-Forwarded-For, set X-Forwarded-Proto, and give a request without an X-Request-ID a random one
# (HAProxy's uuid(), nginx's $request_id), and choose v1/v2 by the same header and the same
# weights (a random weighted choice, as lockgate draws).

ECHO_V1_PORT=$(free_port)
ECHO_V2_PORT=$(free_port)
FOXTROT_V1_PORT=$(free_port)
FOXTROT_V2_PORT=$(free_port)

start_backends() { # core
    local core=$1 backend
    for backend in echo-v1:$ECHO_V1_PORT echo-v2:$ECHO_V2_PORT foxtrot-v1:$FOXTROT_V1_PORT \
        foxtrot-v2:$FOXTROT_V2_PORT; do
        start "${backend%%:*}" "$core" "$lockgate" echo --text "version:${backend%%:*}" \
            --listen "127.0.0.1:${backend##*:}"
        wait_for "${backend%%:*}" "http://127.0.0.1:${backend##*:}/"
    done
}

# lockgate: the seed's upstreams and virtual service, echo's canary route table (phase 1),
# foxtrot's route table with the weights of a phase-2 step (90/10), and one Endpoint per
# backend (what `kubectl apply -f echo.yaml` is in the seed). Into `$work/config`.
write_lockgate_config() {
    mkdir -p "$work/config"
    cp "$repo/crates/cli/demo/upstream-echo.yaml" "$repo/crates/cli/demo/upstream-foxtrot.yaml" \
        "$repo/crates/cli/demo/vs.yaml" "$repo/crates/cli/demo/rt-echo-2.yaml" "$work/config/"
    awk '/weight: 100/ {sub(/100/, "90")} /weight: 0/ {sub(/0$/, "10")} {print}' \
        "$repo/crates/cli/demo/rt-foxtrot-3.yaml" >"$work/config/rt-foxtrot-90-10.yaml"
    endpoint() { # app version port
        cat >"$work/config/endpoint-$1-$2.yaml" <<YAML
apiVersion: gloo.solo.io/v1
kind: Endpoint
metadata:
  name: $1-$2
  namespace: $1
  labels:
    app: $1
    version: $2
spec:
  address: 127.0.0.1
  port: $3
YAML
    }
    endpoint echo v1 "$ECHO_V1_PORT"
    endpoint echo v2 "$ECHO_V2_PORT"
    endpoint foxtrot v1 "$FOXTROT_V1_PORT"
    endpoint foxtrot v2 "$FOXTROT_V2_PORT"
}

write_haproxy_config() { # port file
    local HAPROXY_PORT=$1
    cat >"$2" <<CFG
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend gateway
  bind 127.0.0.1:$HAPROXY_PORT
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Request-ID %[uuid()] unless { req.hdr(x-request-id) -m found }
  acl echo path_beg /echo
  acl foxtrot path_beg /foxtrot
  acl canary req.hdr(stage) -m str canary
  use_backend echo-v2 if echo canary
  use_backend echo-v1 if echo
  use_backend foxtrot-v2 if foxtrot canary
  use_backend foxtrot if foxtrot
backend echo-v1
  http-reuse always
  server echo-v1 127.0.0.1:$ECHO_V1_PORT
backend echo-v2
  http-reuse always
  server echo-v2 127.0.0.1:$ECHO_V2_PORT
backend foxtrot-v2
  http-reuse always
  server foxtrot-v2 127.0.0.1:$FOXTROT_V2_PORT
backend foxtrot
  balance random
  http-reuse always
  server foxtrot-v1 127.0.0.1:$FOXTROT_V1_PORT weight 90
  server foxtrot-v2 127.0.0.1:$FOXTROT_V2_PORT weight 10
CFG
}

write_nginx_config() { # port dir file
    local NGINX_PORT=$1 dir=$2
    cat >"$3" <<CFG
worker_processes 1;
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/nginx-body;
  proxy_temp_path $dir/nginx-proxy;
  keepalive_requests 1000000;
  map \$http_x_request_id \$lockgate_request_id { default \$http_x_request_id; "" \$request_id; }
  map \$http_stage \$echo_pool { canary echo_v2; default echo_v1; }
  map \$http_stage \$foxtrot_pool { canary foxtrot_v2; default foxtrot; }
  upstream echo_v1 { server 127.0.0.1:$ECHO_V1_PORT; keepalive 128; }
  upstream echo_v2 { server 127.0.0.1:$ECHO_V2_PORT; keepalive 128; }
  upstream foxtrot_v2 { server 127.0.0.1:$FOXTROT_V2_PORT; keepalive 128; }
  upstream foxtrot {
    random;
    server 127.0.0.1:$FOXTROT_V1_PORT weight=90;
    server 127.0.0.1:$FOXTROT_V2_PORT weight=10;
    keepalive 128;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_set_header X-Request-ID \$lockgate_request_id;
    location /echo { proxy_pass http://\$echo_pool; }
    location /foxtrot { proxy_pass http://\$foxtrot_pool; }
  }
}
CFG
}
