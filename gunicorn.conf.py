"""gunicorn's settings wherever the Hub is served: the Procfile (`make run`), the Docker image, the reliability
suite and `manage.py bench_webhooks` all start gunicorn in this folder, where it reads this file; their command
lines add the address and the number of worker processes.
"""

# Threads per worker process. A request spends much of its time waiting: on PostgreSQL, whose commit waits for the
# write-ahead log to reach the disk (a webhook is stored durably before it is answered), and on Redis. With
# threads a worker serves other requests meanwhile, and keeps its connections alive between a sender's requests.
# Each thread holds its own database connection (CONN_MAX_AGE): 4 per process.
threads = 4

# Connections a worker holds at once: those its threads serve and as many kept alive between requests. A worker
# keeps the connections it accepted, so with gunicorn's default (1000) one worker could take nearly all of a burst
# of keep-alive clients (a webhook provider, the proxy) while the other worker's core idled: 12 of 16 senders in
# bench_webhooks, 255 deliveries/s instead of 350. Beyond this, new connections wait in the listening socket's
# queue, which every worker takes from (tests/server/test_server_process.py).
worker_connections = 2 * threads
