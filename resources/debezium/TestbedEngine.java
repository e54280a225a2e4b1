// The Debezium embedded engine as a small process for Testbed's CDC stream.
//
// Usage: java -cp <jars>:<dir> TestbedEngine <engine.properties>
// The properties are Debezium's, plus three of ours:
//   testbed.events.file   change events are appended here as JSON lines, {"topic":..,"value":..},
//                         flushed once per batch BEFORE the batch's offsets are marked processed
//                         (so a crash replays events, never loses them; the reader drops replays);
//   testbed.health.port   GET http://127.0.0.1:<port>/health answers 200 once the connector's
//                         streaming phase is connected to the binlog (503 before), with counters;
//   testbed.streaming.mbean  the JMX name of the connector's streaming metrics (read in-process).
// Exit: 0 after SIGTERM (the hook closes the engine, which commits offsets); 2 when the engine
// fails (its executor threads are not daemons: without the halt the JVM would linger, alive and
// useless).
import com.sun.net.httpserver.HttpServer;
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;

import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ObjectName;

public class TestbedEngine {
    private static final AtomicBoolean stopping = new AtomicBoolean(false);
    private static final AtomicLong events = new AtomicLong();
    private static final AtomicLong batches = new AtomicLong();

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        String eventsFile = (String) props.remove("testbed.events.file");
        int healthPort = Integer.parseInt((String) props.remove("testbed.health.port"));
        ObjectName streaming = new ObjectName((String) props.remove("testbed.streaming.mbean"));

        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(
                new FileOutputStream(eventsFile, true), StandardCharsets.UTF_8), 1 << 16);

        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .notifying((List<ChangeEvent<String, String>> records,
                            DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer) -> {
                    try {
                        for (ChangeEvent<String, String> record : records) {
                            if (record.value() == null || record.destination().startsWith("__debezium-heartbeat")) {
                                continue; // a tombstone or a heartbeat: nothing to apply (still confirmed below)
                            }
                            out.write("{\"topic\":\"");
                            out.write(record.destination());
                            out.write("\",\"value\":");
                            out.write(record.value());
                            out.write("}\n");
                        }
                        out.flush(); // written before the offsets say these were processed
                    } catch (IOException e) {
                        throw new UncheckedIOException(e); // fails the engine: exit 2
                    }
                    for (ChangeEvent<String, String> record : records) {
                        committer.markProcessed(record);
                    }
                    committer.markBatchFinished();
                    events.addAndGet(records.size());
                    batches.incrementAndGet();
                })
                .using((boolean success, String message, Throwable error) -> {
                    if (!success && !stopping.get()) {
                        System.err.println("testbed-engine: the engine stopped: " + message);
                        if (error != null) {
                            error.printStackTrace();
                        }
                        System.err.flush();
                        Runtime.getRuntime().halt(2);
                    }
                })
                .build();

        HttpServer health = HttpServer.create(new InetSocketAddress("127.0.0.1", healthPort), 8);
        health.createContext("/health", exchange -> {
            boolean connected = false;
            try {
                connected = Boolean.TRUE.equals(
                        ManagementFactory.getPlatformMBeanServer().getAttribute(streaming, "Connected"));
            } catch (Exception notYet) {
                // the streaming metrics appear once the connector reaches its streaming phase
            }
            byte[] body = String.format("{\"connected\":%s,\"events\":%d,\"batches\":%d}",
                    connected, events.get(), batches.get()).getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(connected ? 200 : 503, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        health.start();

        ExecutorService executor = Executors.newSingleThreadExecutor();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.set(true);
            try {
                engine.close(); // commits the offsets of what was processed
                executor.shutdown();
                executor.awaitTermination(10, TimeUnit.SECONDS);
                out.flush();
            } catch (Exception e) {
                e.printStackTrace();
            }
            health.stop(0);
        }, "testbed-engine-stop"));
        executor.execute(engine);
    }
}
