package dmarcflow.testengine.opensearch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one single-node OpenSearch cluster in this JVM, HTTP on 127.0.0.1:{port}, no security plugin.
 *
 * Usage: Main <httpPort> <homeDir>. Data lives in homeDir/data; logs go to stdout.
 * Stops cleanly on SIGTERM, and on EOF of stdin when -Ddmarcflow.exitOnStdinEof=true.
 * Built in process (not through the distribution's launcher), so the launcher's root-user
 * refusal does not apply: tests and CI run as root.
 */
public final class Main {

    private static final String NODE_NAME = "dmarcflow-test";

    private static final String LOG_CONFIG = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%c{1.}] %m%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = console",
            "");

    private Main() {
    }

    /** Node's plugin-taking constructor is protected: classpath plugins are how tests embed a node. */
    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment environment) {
            super(environment, List.of(Netty4Plugin.class), true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Main <httpPort> <homeDir>");
            System.exit(2);
        }
        Path home = Path.of(args[1]).toAbsolutePath();
        Node node = new EmbeddedNode(prepare(Integer.parseInt(args[0]), home));
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeNode(node, closed)));
        node.start();
        System.out.println("dmarcflow-search-engine started");
        if (Boolean.getBoolean("dmarcflow.exitOnStdinEof")) {
            exitOnStdinEof();
        }
        closed.await();
    }

    private static Environment prepare(int httpPort, Path home) throws Exception {
        Path config = home.resolve("config");
        Files.createDirectories(config);
        Files.writeString(config.resolve("log4j2.properties"), LOG_CONFIG);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                nodeSettings(httpPort, home), Map.of(), config, () -> NODE_NAME);
        LogConfigurator.setNodeName(NODE_NAME);
        LogConfigurator.configure(environment);
        return environment;
    }

    static Settings nodeSettings(int httpPort, Path home) {
        return Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("cluster.name", NODE_NAME)
                .put("node.name", NODE_NAME)
                .put("discovery.type", "single-node")
                .put("network.host", "127.0.0.1")
                .put("http.port", httpPort)
                // The transport layer is unused by a single node: any free port will do.
                .put("transport.port", "0")
                .put("http.type", "netty4")
                .put("transport.type", "netty4")
                // Small CI disks must not flip indices to read-only mid-test.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .build();
    }

    /**
     * The launcher holds our stdin open and never writes to it: EOF means it died, and a
     * node left running would hold the port and data directory of the next test run.
     */
    private static void exitOnStdinEof() {
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() != -1) {
                    // Nothing is ever sent; drain anything that is.
                }
            } catch (IOException e) {
                // A broken pipe means the same thing as EOF.
            }
            System.exit(0);
        }, "stdin-eof-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private static void closeNode(Node node, CountDownLatch closed) {
        try {
            node.close();
            node.awaitClose(30, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            e.printStackTrace();
        } finally {
            closed.countDown();
        }
    }
}
