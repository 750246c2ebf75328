"""gunicorn's settings wherever the Hub is served: the Procfile (`make run`), the Docker image, the reliability
suite and `manage.py bench_webhooks` all start gunicorn in this folder, where it reads this file; their command
lines add the address and the number of worker processes.
"""

# Threads per worker process. A request spends much of its time waiting: on PostgreSQL, whose commit waits for the
# write-ahead log to reach the disk (a webhook is stored durably before it is answered), and on Redis. With
# threads a worker serves other requests meanwhile, and keeps its connections alive between a sender's requests.
# Each thread holds its own database connection (CONN_MAX_AGE): 4 per process.
threads = 4
